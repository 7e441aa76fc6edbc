"""The OIDC provider's signing keys (a JWKS): PyJWT's `PyJWKClient`, one per URL and process.

PyJWKClient keeps a fetched set for its lifespan (OIDC_JWKS_CACHE_SECONDS) and, for a kid the set
lacks (the provider rotated its keys), fetches it again at most once per cooldown
(REFETCH_MIN_INTERVAL), so a stream of made-up kids cannot turn every request into a call to the
provider. What it lacks is added here:
- the fetch goes through the outbound policy (domain/common/outbound.py), not through urllib;
- only RSA signature keys for RS256 are kept; other entries of a set are skipped;
- a failed fetch keeps the keys already known, and none is tried again for REFETCH_MIN_INTERVAL:
  a short outage of the provider should not log everyone out, and PyJWKClient alone would call a
  provider that is down on every request once its set has expired.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from domain.common import outbound

logger = logging.getLogger(__name__)

REFETCH_MIN_INTERVAL = 10.0  # seconds between two fetches of one URL that were not due by age
USER_AGENT = "Regatta/0.1 (oidc-jwks; python-requests)"

# Monotonic, as PyJWKClient's own clock: a wall-clock jump must neither expire the cache nor lift
# the refetch limit. A module attribute so that tests can move time without sleeping.
_clock = time.monotonic


class JwksUnavailable(jwt.PyJWKClientConnectionError):
    """The key set could not be fetched or read."""


class OutboundJWKClient(jwt.PyJWKClient):
    """PyJWKClient fetching under the outbound policy and keeping its keys through an outage."""

    def __init__(self, url: str, *, max_age: float) -> None:
        super().__init__(
            url,
            # A set older than max_age is fetched again, but never more often than the refetch
            # limit allows (which also keeps a max_age of 0 valid: PyJWKClient wants it positive).
            lifespan=max(max_age, REFETCH_MIN_INTERVAL),
            cooldown_duration=REFETCH_MIN_INTERVAL,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self._known: jwt.PyJWKSet | None = None  # the last set fetched successfully
        self._failed_at = -math.inf  # monotonic time of the last failed fetch

    def fetch_data(self) -> jwt.PyJWKSet:
        """The provider's RS256 keys, fetched under the outbound policy. Raises JwksUnavailable."""
        jwk_set = _fetch(self.uri, headers=self.headers)
        # What PyJWKClient.fetch_data does after a successful fetch: cache the set and start the
        # cooldown that limits refetches for unknown kids.
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(jwk_set)
        self._last_successful_fetch = _clock()
        self._known = jwk_set
        return jwk_set

    def rsa_key(self, kid: str) -> RSAPublicKey | None:
        """The public key named `kid`, or None if the provider has no such RS256 key."""
        with self._client_lock:
            if _clock() - self._failed_at < REFETCH_MIN_INTERVAL:
                return self._known_key(kid)
            try:
                jwk = self.get_signing_key(kid)
            except JwksUnavailable as exc:
                self._failed_at = _clock()
                known = len(self._known.keys) if self._known else 0
                logger.warning(
                    "JWKS fetch from %s failed, keeping %d known keys: %s", self.uri, known, exc
                )
                return self._known_key(kid)
            except jwt.PyJWKClientError:
                return None  # a fresh enough set has no key with this kid
            return _public(jwk)

    def _known_key(self, kid: str) -> RSAPublicKey | None:
        jwk = self.match_kid(self._known.keys, kid) if self._known else None
        return _public(jwk)


_clients: dict[tuple[str, float], OutboundJWKClient] = {}
_clients_lock = threading.Lock()


def signing_key(url: str, kid: str, *, max_age: float) -> RSAPublicKey | None:
    """The RS256 public key named `kid` in the JWKS at `url`, or None if it has no such key."""
    client = _client(url, max_age=max_age)
    return client.rsa_key(kid) if client is not None else None


def clear_cache() -> None:
    """Forget every fetched key set (tests; a process that must drop keys at once)."""
    with _clients_lock:
        _clients.clear()


def _client(url: str, *, max_age: float) -> OutboundJWKClient | None:
    with _clients_lock:
        client = _clients.get((url, max_age))
        if client is None:
            try:
                client = _clients[(url, max_age)] = OutboundJWKClient(url, max_age=max_age)
            except jwt.PyJWKClientError as exc:  # not an http(s) URL
                logger.warning("JWKS fetch from %s refused: %s", url, exc)
                return None
        return client


def _fetch(url: str, *, headers: dict[str, str]) -> jwt.PyJWKSet:
    try:
        resp = outbound.request("GET", url, headers=headers)
    except outbound.OutboundError as exc:
        raise JwksUnavailable(exc.detail) from exc
    if resp.status_code >= 400:
        raise JwksUnavailable(f"the provider answered {resp.status_code}")
    try:
        data = resp.json()
    except ValueError as exc:
        raise JwksUnavailable(f"the answer is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksUnavailable("the answer is not a JWKS (no `keys` list)")
    try:
        # PyJWKSet skips entries it cannot read and refuses a set left without any.
        return jwt.PyJWKSet([entry for entry in data["keys"] if _rs256_entry(entry)])
    except jwt.PyJWKSetError as exc:
        raise JwksUnavailable(f"the answer holds no RS256 signature key: {exc}") from exc


def _rs256_entry(entry: Any) -> bool:
    # Only RSA signature keys with a kid can verify an RS256 token; a set may also hold other
    # kinds (encryption keys, EC keys), which are skipped rather than failing the whole set.
    return (
        isinstance(entry, dict)
        and entry.get("kty") == "RSA"
        and isinstance(entry.get("kid"), str)
        and bool(entry["kid"])
        and entry.get("use", "sig") == "sig"
        and entry.get("alg", "RS256") == "RS256"
    )


def _public(jwk: jwt.PyJWK | None) -> RSAPublicKey | None:
    # A published private key is a provider's mistake; verifying needs only public keys.
    key = jwk.key if jwk is not None else None
    return key if isinstance(key, RSAPublicKey) else None
