"""The Django test client speaking JSON as the families' clients do, with an optional bearer
token and extra headers: one client for every family's API tests."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client


class Api:
    def __init__(self, token: str | None = None, *, raise_request_exception: bool = True) -> None:
        self.client = Client(raise_request_exception=raise_request_exception)
        self.token = token

    def _headers(self, token: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        bearer = token if token is not None else self.token
        if bearer:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {bearer}")
        return extra

    def get(
        self,
        path: str,
        params: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **query: Any,
    ):
        """GET with the query from `params` (a dict or a list of pairs) and/or keywords."""
        if query:
            params = {**dict(params or {}), **query}
        return self.client.get(path, params or {}, **self._headers(token, headers))

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        return getattr(self.client, method.lower())(
            path, data=data, content_type="application/json", **self._headers(token, headers)
        )

    def post(self, path: str, body: Any = None, **kw: Any):
        return self.send("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any):
        return self.send("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any):
        return self.send("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any):
        return self.send("DELETE", path, None, **kw)
