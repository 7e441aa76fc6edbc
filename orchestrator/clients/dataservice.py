"""Study mirror source: every page of `GET {DATASERVICE_URL}/studies` (QUIRK fix: the original
read only the first 100)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from domain.common import outbound
from orchestrator.clients.task_service import USER_AGENT

MAX_PAGES = 10000


class DataserviceError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _next_link(base: str, body: dict[str, Any]) -> str | None:
    """The dataservice spells it `_links.next` (relative); DRF-style services spell it `next`."""
    link = (body.get("_links") or {}).get("next") or body.get("next")
    return urljoin(base + "/", link) if isinstance(link, str) and link else None


def fetch_studies(base_url: str) -> list[dict[str, Any]]:
    base = base_url.rstrip("/")
    url: str | None = f"{base}/studies?limit=100"
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        if url is None or url in seen:
            break
        seen.add(url)
        try:
            resp = outbound.request("GET", url, headers={"User-Agent": USER_AGENT})
        except outbound.OutboundError as exc:
            raise DataserviceError(502, f"could not reach the dataservice: {exc}") from exc
        if resp.status_code >= 400:
            raise DataserviceError(resp.status_code, f"dataservice answered {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise DataserviceError(
                502, "dataservice answered with a body that is not JSON"
            ) from exc
        results = body.get("results") or []
        rows.extend(r for r in results if isinstance(r, dict) and r.get("kf_id"))
        url = _next_link(base, body) if results else None
    return rows
