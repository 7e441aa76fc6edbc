"""The task-service protocol (spec §3): `GET {url}/status` and `POST {url}/tasks`.

Every call goes through domain.common.outbound: the address policy, no redirects, a capped answer
and one deadline per call. Transient failures (connection error, deadline, 5xx) raise
TransientError so the calling task can retry with backoff; everything else that is not an
acceptable answer raises PermanentError: a refusal by the service, or by our outbound policy.
The outbound token is sent as a bearer token and never logged.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from domain.common import outbound
from orchestrator.taskkit import PermanentError, TransientError

logger = logging.getLogger(__name__)

USER_AGENT = "Regatta/0.1 (release-coordinator; python-requests)"
# One answer for every registration check that reached the network: which of a refused port, a
# timeout, a refused address or a wrong answer it was would map the network behind us.
NOT_ANSWERED = "the service did not answer GET /status as the protocol requires"


def headers(token: str = "") -> dict[str, str]:
    out = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        out["Authorization"] = f"Bearer {token}"
    return out


def _request(method: str, url: str, token: str, **kwargs: Any) -> outbound.Answer:
    try:
        resp = outbound.request(method, url, headers=headers(token), **kwargs)
    except outbound.OutboundUnavailable as exc:
        raise TransientError(str(exc)) from exc
    except outbound.OutboundRefused as exc:
        raise PermanentError(str(exc)) from exc
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
    except (TransientError, PermanentError):
        return False
    return resp.status_code < 300


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


def url_problem(url: Any) -> str | None:
    """What is wrong with the shape of a task-service URL, if anything (no network)."""
    if not _is_web_url(url):
        return "Enter a valid URL."
    # `/status` and `/tasks` are appended to the URL: after a `?` or `#` they would land in the
    # query or fragment and the call would reach another path. User info would be sent as basic
    # auth beside our bearer token.
    if "?" in url or "#" in url or "@" in urlsplit(url).netloc:
        return "Enter a URL without a query, a fragment or user info."
    return None


def validate_endpoint(url: str) -> str | None:
    """The registration check (spec §3.1): None when fine, else the message for `url`.
    The check sends no Authorization header, as the original did."""
    problem = url_problem(url)
    if problem:
        return problem
    try:
        resp = outbound.request(
            "GET", url.rstrip("/") + "/status", headers={"User-Agent": USER_AGENT}
        )
    except outbound.OutboundError as exc:
        return _not_answered(url, exc.detail)
    if resp.status_code != 200:
        return _not_answered(url, f"status {resp.status_code}")
    if "name" not in resp.text:
        return _not_answered(url, "no name in the body")
    return None


def _not_answered(url: str, detail: str) -> str:
    logger.warning("registration check of %s failed: %s", url, detail)
    return NOT_ANSWERED
