"""Every outbound HTTP call (task services, the dataservice, the OIDC JWKS) goes through here.

The policy, against SSRF and stuck threads:
- The host is resolved, and the connection checks every address it got before it connects to
  one: loopback, private, link-local, multicast, unspecified and reserved addresses (IPv4, IPv6
  and IPv4-mapped IPv6) are refused unless `OUTBOUND_ALLOWED_NETWORKS` holds them. The address
  checked is the address connected to, so a second DNS answer cannot slip in between (rebinding);
  the Host header, TLS SNI and the certificate check still use the host name.
- Redirects are not followed: a 3xx is a refusal.
- The answer is read streaming, at most `OUTBOUND_MAX_RESPONSE_BYTES` of it.
- `OUTBOUND_TIMEOUT` is one deadline for the whole call. A socket timeout bounds each read, not
  their sum, so a watchdog thread shuts the socket down when the deadline passes: a server that
  drips a byte at a time cannot hold a web worker or a batch thread longer.
- Proxies and .netrc from the environment are ignored: the policy is about where we connect.

This lives in domain/common because the JWKS fetch (domain/common/jwks.py) needs it too.
"""

from __future__ import annotations

import json as jsonlib
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
CHUNK_BYTES = 16 * 1024


class OutboundError(Exception):
    """No usable answer. The message is safe to store and show (no headers, no body); `detail`
    says more, for the log only."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


class OutboundRefused(OutboundError):
    """Our policy refused the call (address, redirect, size): trying again will not help."""


class OutboundUnavailable(OutboundError):
    """The connection failed or the deadline passed: a later try may succeed."""


@dataclass(frozen=True)
class Answer:
    """A complete answer that is not a redirect, of any other status."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return jsonlib.loads(self.content)


def request(method: str, url: str, *, headers: dict[str, str], json: Any = None) -> Answer:
    """One call under the policy above."""
    timeout = settings.OUTBOUND_TIMEOUT
    call = _Call(deadline=time.monotonic() + timeout)
    _local.call = call
    _watchdog.watch(call)
    try:
        answer = _exchange(method, url, headers=headers, json=json)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _unavailable(exc, expired=call.expired, timeout=timeout) from exc
    finally:
        _watchdog.unwatch(call)
        _local.call = None
    if call.expired:
        # The shutdown ends a body that has no length early, and such a body looks complete.
        raise _unavailable(TimeoutError("deadline passed"), expired=True, timeout=timeout)
    return answer


# --- the address policy --------------------------------------------------------------------------


def address_allowed(ip: IPAddress, *, allowed: Sequence[Network]) -> bool:
    """May we connect to `ip`? Only public unicast addresses, and whatever `allowed` holds."""
    # An IPv4-mapped IPv6 address reaches the IPv4 address it carries.
    ip = getattr(ip, "ipv4_mapped", None) or ip
    if any(ip in net for net in allowed if net.version == ip.version):
        return True
    special = (
        ip.is_loopback,
        ip.is_private,
        ip.is_link_local,
        ip.is_multicast,
        ip.is_unspecified,
        ip.is_reserved,
    )
    return ip.is_global and not any(special)


def _resolve(host: str, port: int) -> list[tuple]:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundUnavailable(
            "NameResolutionError: the host name did not resolve", detail=f"{host}: {exc}"
        ) from exc


def _permitted(host: str, infos: list[tuple]) -> list[tuple]:
    """The resolved addresses we may connect to; refuses the call when there is none."""
    allowed = settings.OUTBOUND_ALLOWED_NETWORKS
    ok = [info for info in infos if address_allowed(ip_address(info[4][0]), allowed=allowed)]
    if not ok:
        addresses = ", ".join(sorted({str(info[4][0]) for info in infos}))
        raise OutboundRefused(
            f"the address of {host} is not allowed for outbound calls",
            detail=f"{host} resolves to {addresses}, none public nor in OUTBOUND_ALLOWED_NETWORKS",
        )
    return ok


class _Guarded:
    """Mixed into urllib3's connections: resolve, check, and connect to a checked address."""

    _peer: IPAddress | None = None

    def _new_conn(self) -> socket.socket:
        _attach(self)
        host, port = self._dns_host, self.port
        last: OSError | None = None
        for family, kind, proto, _, sockaddr in _permitted(self.host, _resolve(host, port)):
            try:
                sock = self._connect_to(family, kind, proto, sockaddr)
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"connect to {self.host} timed out") from exc
            except OSError as exc:
                last = exc
                continue
            self._peer = ip_address(sockaddr[0])
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")

    def _connect_to(self, family: int, kind: int, proto: int, sockaddr: tuple) -> socket.socket:
        sock = socket.socket(family, kind, proto)
        try:
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(_connect_timeout(self.timeout))
            sock.connect(sockaddr)
        except BaseException:
            sock.close()
            raise
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        # A kept-alive connection was checked when it connected; the policy may have changed.
        peer = self._peer if self.sock is not None else None
        if peer is not None and not address_allowed(
            peer, allowed=settings.OUTBOUND_ALLOWED_NETWORKS
        ):
            self.close()
            raise OutboundRefused(f"the address of {self.host} is not allowed for outbound calls")
        super().request(*args, **kwargs)


class _GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


# --- one call: session, deadline, streaming read -------------------------------------------------

_local = threading.local()


def _adapter() -> _GuardedAdapter:
    """One adapter (a connection pool) per thread: its connections are kept alive between calls
    (a new TCP connection per call cost more CPU than the call's own work). Requests are sent
    through it directly, not through a `requests.Session`: a session merges its defaults,
    environment, cookies and hooks into every call, which cost a fifth of a call's CPU, and
    none of them apply (no proxies from the environment, no cookies kept between services)."""
    adapter = getattr(_local, "adapter", None)
    if adapter is None:
        adapter = _local.adapter = _GuardedAdapter()
    return adapter


@dataclass(eq=False)
class _Call:
    deadline: float
    conn: Any = None
    expired: bool = False

    def expire(self) -> None:
        self.expired = True
        sock = getattr(self.conn, "sock", None)
        if sock is None:
            return
        try:
            # The plain socket's shutdown, also under TLS: it wakes the blocked read at once.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


def _connect_timeout(timeout: Any) -> float | None:
    """The connection's timeout, but no later than the call's deadline: the watchdog cannot end
    a connect (the socket is not the connection's yet), and a host may have several addresses."""
    call = getattr(_local, "call", None)
    limit = timeout if isinstance(timeout, int | float) else None
    if call is None:
        return limit
    left = max(call.deadline - time.monotonic(), 0.001)
    return left if limit is None else min(limit, left)


def _attach(conn: Any) -> None:
    """Tell this thread's call which connection it uses, so the watchdog can end it."""
    call = getattr(_local, "call", None)
    if call is not None:
        call.conn = conn


def _exchange(method: str, url: str, *, headers: dict[str, str], json: Any) -> Answer:
    prepared = requests.Request(method, url, headers=headers, json=json).prepare()
    # An adapter never follows a redirect: a 3xx comes back as it is and is refused below.
    resp = _adapter().send(prepared, stream=True, timeout=settings.OUTBOUND_TIMEOUT)
    with resp:
        if 300 <= resp.status_code < 400:
            raise OutboundRefused(f"answered {resp.status_code}, a redirect, which is not followed")
        return Answer(status_code=resp.status_code, content=_read(resp))


def _read(resp: requests.Response) -> bytes:
    cap = settings.OUTBOUND_MAX_RESPONSE_BYTES
    too_large = OutboundRefused(f"the answer is larger than {cap} bytes")
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_large
    chunks, size = [], 0
    for chunk in resp.iter_content(CHUNK_BYTES):
        size += len(chunk)
        if size > cap:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _unavailable(exc: BaseException, *, expired: bool, timeout: float) -> OutboundUnavailable:
    detail = f"{type(exc).__name__}: {exc}"
    if expired or isinstance(exc, requests.Timeout):
        kind = "ConnectTimeout" if isinstance(exc, requests.ConnectTimeout) else "ReadTimeout"
        message = f"{kind}: no complete answer within {timeout:g} s"
        return OutboundUnavailable(message, detail=detail)
    # The kind of failure only: the text of a refused or reset connection tells ports apart.
    return OutboundUnavailable(f"{type(exc).__name__}: the connection failed", detail=detail)


class _Watchdog:
    """One thread per process ends the calls whose deadline passed."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # After a fork the thread is gone and the lock may be held by a thread that is gone too.
        self._cond = threading.Condition()
        self._calls: set[_Call] = set()
        self._running = False

    def watch(self, call: _Call) -> None:
        with self._cond:
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="outbound-deadlines", daemon=True).start()
            self._calls.add(call)
            self._cond.notify()

    def unwatch(self, call: _Call) -> None:
        with self._cond:
            self._calls.discard(call)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for call in [c for c in self._calls if c.deadline <= now]:
                    self._calls.discard(call)
                    call.expire()
                nearest = min((c.deadline for c in self._calls), default=None)
                self._cond.wait(None if nearest is None else nearest - now)


_watchdog = _Watchdog()
