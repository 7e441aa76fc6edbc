"""How Flotilla operations are registered: one view at each API version that serves it, the
answers it documents, and the read check."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.http import HttpRequest
from ninja import Router

from api.flotilla.auth import authorize_read
from api.flotilla.schemas import ErrorOut

V1_V6 = ("v1", "v6")


def answers(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    """The success and every refusal an operation may give, all `{"error": …}`. Every
    operation may answer 400 (a NUL in the path or query) and 401 (private reads, or a write
    without a credential)."""
    return {**ok, **{code: ErrorOut for code in sorted({400, 401, *codes})}}


def at_versions(
    router: Router,
    method: str,
    path: str,
    versions: Iterable[str] = V1_V6,
    *,
    also_at: dict[str, str] | None = None,
    **options: Any,
) -> Callable[[Callable], Callable]:
    """Register the view at `/api/<version><path>` for each version, and at each path of
    `also_at` (path → operation name) where the original served the same answer twice."""

    def register(view: Callable) -> Callable:
        paths = {path: view.__name__, **(also_at or {})}
        for version in versions:
            for each_path, name in paths.items():
                router.api_operation(
                    [method],
                    f"/api/{version}{each_path}",
                    operation_id=f"flotilla_{name}_{version}",
                    **options,
                )(view)
        return view

    return register


def reads(view: Callable) -> Callable:
    """A read: open, or (RUNS_PRIVATE_READS) for any valid token."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        authorize_read(request)
        return view(request, *args, **kwargs)

    return checked


def typed(**hints: Any) -> Callable[[Callable], Callable]:
    """Give parameters their types as objects, not strings: ninja reads a paginated view's
    string annotations in the pagination module, where a schema of ours is unknown."""

    def annotate(view: Callable) -> Callable:
        view.__annotations__.update(hints)
        return view

    return annotate
