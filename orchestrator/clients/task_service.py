"""The task-service protocol (spec §3): `GET {url}/status` and `POST {url}/tasks`.

Transient failures (connection error, timeout, 5xx) raise TransientError so the calling task can
retry with backoff; everything else that is not an acceptable answer raises PermanentError.
The outbound token is sent as a bearer token and never logged.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from orchestrator.taskkit import TransientError

USER_AGENT = "Regatta/0.1 (release-coordinator; python-requests)"


class PermanentError(Exception):
    """The service answered, and the answer is a refusal (4xx, a wrong state, a bad body)."""


def headers(token: str = "") -> dict[str, str]:
    out = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        out["Authorization"] = f"Bearer {token}"
    return out


def _describe(exc: requests.RequestException) -> str:
    # requests' messages can embed the URL but never the headers, so the token stays out of logs.
    return f"{type(exc).__name__}: {exc}"


_local = threading.local()


def _session() -> requests.Session:
    """One session per thread: its connections to each service are kept alive between calls
    (a new session and TCP connection per call cost more CPU than the call's own work)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _request(method: str, url: str, token: str, **kwargs: Any) -> requests.Response:
    try:
        resp = _session().request(
            method, url, headers=headers(token), timeout=settings.OUTBOUND_TIMEOUT, **kwargs
        )
    except requests.RequestException as exc:
        raise TransientError(_describe(exc)) from exc
    if resp.status_code >= 500:
        raise TransientError(f"{url} answered {resp.status_code}")
    return resp


def send_action(
    *,
    base_url: str,
    token: str,
    action: str,
    task_id: str,
    release_id: str,
    studies: list[str] | None = None,
) -> dict[str, Any]:
    """POST one action; returns the JSON body (may be {}). Non-2xx → Transient (5xx) or
    Permanent (anything else)."""
    body: dict[str, Any] = {"action": action, "task_id": task_id, "release_id": release_id}
    if studies is not None:
        body["studies"] = studies
    url = base_url.rstrip("/") + "/tasks"
    resp = _request("POST", url, token, json=body)
    if not 200 <= resp.status_code < 300:
        raise PermanentError(f"{url} answered {resp.status_code}")
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def check_health(*, base_url: str, token: str) -> bool:
    try:
        resp = _request("GET", base_url.rstrip("/") + "/status", token)
    except TransientError:
        return False
    return resp.status_code < 400


def _is_web_url(url: Any) -> bool:
    """http(s) with a host. The original only checked that the text started with `http`, which
    let `httpx://…` or `http:nothing` through to fail later on every call."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def validate_endpoint(url: str) -> str | None:
    """The registration check (spec §3.1): None when fine, else the message for `url`.
    The check sends no Authorization header, as the original did."""
    if not _is_web_url(url):
        return "Enter a valid URL."
    status_url = url.rstrip("/") + "/status"
    try:
        resp = requests.get(
            status_url, headers={"User-Agent": USER_AGENT}, timeout=settings.OUTBOUND_TIMEOUT
        )
    except requests.RequestException as exc:
        return f"could not reach {url}: {_describe(exc)}"
    if resp.status_code != 200:
        return f"{url} did not return the expected /status response: status {resp.status_code}"
    if "name" not in resp.text:
        return f"{url} did not return the expected /status response: no name in the body"
    return None
