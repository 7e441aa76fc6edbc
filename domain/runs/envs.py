"""Environment lists: checking, merging by name (spec B.5), and the searchable index behind
the `env=NAME|VALUE` filters.

The index holds each pair as its JSON text, `["NAME","VALUE"]`, one after another. A pair is
found by the position of its own JSON text (StrIndex: STRPOS / INSTR, case-sensitive on every
database), and never by accident across pairs: inside a JSON string every `"` is escaped, so
`["` occurs only where a pair begins, and from there the text parses as exactly one pair.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.db.models import Value
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan

from domain.common.errors import InvalidInput
from domain.runs import conf

Pair = tuple[str, str]
MAX_NAME = 255
MAX_VARS = 1000


def env_checked(items: Iterable[tuple[str, str]] | None) -> list[Pair]:
    """The request's pairs with names sanitised as the original did (a leading `$` and spaces
    dropped, an empty name dropped), refused when a process could not carry them."""
    pairs: list[Pair] = []
    for name, value in items or ():
        name = name.replace(" ", "").lstrip("$")
        if not name:
            continue
        if "=" in name or "\x00" in name or len(name) > MAX_NAME:
            raise InvalidInput(f"environment variable name [{name[:64]}] is not valid")
        if "\x00" in value:
            raise InvalidInput(f"environment variable [{name[:64]}] holds a NUL character")
        pairs.append((name, value))
    if len(pairs) > MAX_VARS:
        raise InvalidInput(f"at most {MAX_VARS} environment variables are allowed")
    return pairs


def env_merge(*layers: Iterable[Pair]) -> list[Pair]:
    """Later layers win by name; a name keeps the place where it first appeared."""
    merged: dict[str, str] = {}
    for layer in layers:
        for name, value in layer:
            merged[name] = value
    return list(merged.items())


def reserved_env(*, run_id: str, owner: str) -> list[Pair]:
    """What every run is given, last, so no definition or request can forge it."""
    return [
        ("FLOTILLA_SERVER_MODE", conf.server_mode()),
        ("FLOTILLA_RUN_ID", run_id),
        ("AWS_ROLE_SESSION_NAME", run_id),
        (conf.owner_id_var(), owner),
    ]


def env_as_json(pairs: Iterable[Pair]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def env_pairs(stored: list[dict[str, str]]) -> list[Pair]:
    return [(item["name"], item["value"]) for item in stored]


def _token(name: str, value: str) -> str:
    return json.dumps([name, value], ensure_ascii=False, separators=(",", ":"))


def env_index(pairs: Iterable[Pair]) -> str:
    return "".join(_token(name, value) for name, value in pairs)


def env_holds(filters: dict[str, str]) -> list[GreaterThan]:
    """Conditions (for `filter(*…)`) on rows whose env holds every NAME=VALUE of `filters`;
    the text searched for is a bound parameter."""
    return [
        GreaterThan(StrIndex("env_index", Value(_token(name, value))), 0)
        for name, value in filters.items()
    ]
