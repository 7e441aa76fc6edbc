"""A stand-in OIDC provider: a real HTTP server on 127.0.0.1 serving a JWKS of RSA keys made with
`cryptography`, and tokens signed by hand (so a test can also forge `alg: none` and HS256 ones,
which no JWT library will sign with an RSA key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class RsaKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str) -> RsaKey:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
        }

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """An RS256 token naming this key's kid (header entries override, e.g. kid=...)."""
        return compact(
            {"alg": "RS256", "typ": "JWT", "kid": self.kid, **header},
            claims,
            lambda msg: self.private.sign(msg, padding.PKCS1v15(), hashes.SHA256()),
        )


def compact(header: dict[str, Any], claims: dict[str, Any], sign) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """`alg: none`: a header and claims with an empty signature."""
    return compact({"alg": "none", "typ": "JWT", "kid": kid}, claims, lambda msg: b"")


def hs256_with_public_key(key: RsaKey, claims: dict[str, Any]) -> str:
    """The algorithm-confusion forgery: HMAC keyed with the provider's public key, which anyone
    can download, accepted by a verifier that lets the token's header pick the algorithm."""
    return compact(
        {"alg": "HS256", "typ": "JWT", "kid": key.kid},
        claims,
        lambda msg: hmac.new(key.public_pem(), msg, hashlib.sha256).digest(),
    )


def _other_entries() -> list[Any]:
    # What a real key set may also hold: the verifier must skip these, not fail the whole set.
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    encryption = RsaKey.generate("enc-1").jwk() | {"use": "enc", "alg": "RSA-OAEP"}
    return [
        {
            "kty": "EC",
            "crv": "P-256",
            "kid": "ec-1",
            "x": _uint(ec_public.x),
            "y": _uint(ec_public.y),
        },
        encryption,
        "not a key",
    ]


class OidcProviderStandIn:
    """Serves `{"keys": [...]}` at `url`; `publish()` swaps the keys (rotation); `fetches` counts
    the GETs; `failing = True` answers them 503 (an outage that still counts calls); `stop()`
    closes the socket so later fetches are refused."""

    def __init__(self, *keys: RsaKey) -> None:
        self.keys = list(keys) or [RsaKey.generate("key-1")]
        self.fetches = 0
        self.failing = False
        self._extra = _other_entries()
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                provider._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def key(self) -> RsaKey:
        return self.keys[0]

    def publish(self, *keys: RsaKey) -> None:
        with self._lock:
            self.keys = list(keys)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.fetches += 1
            body = json.dumps({"keys": [k.jwk() for k in self.keys] + self._extra}).encode()
            status = 503 if self.failing else 200
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
