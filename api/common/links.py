"""Absolute URLs for hyperlinks and page links, honouring REGATTA_PUBLIC_URL behind a proxy."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def base_url(request: HttpRequest) -> str:
    return (settings.REGATTA_PUBLIC_URL or request.build_absolute_uri("/")).rstrip("/")


def absolute_url(request: HttpRequest, path: str) -> str:
    return base_url(request) + path
