"""What the tracker's OpenAPI document says about each route: request bodies, replies, the
statuses it answers and who may call it.

The views read their bodies themselves (Go's decoding rules, api/tracker/wire.py), so the
request models here only document: they are never used to parse. They say what the server
accepts, no more and no less: every member optional (a missing one is Go's zero value), `null`
allowed, unknown members allowed, integers within the Go type's range, no NUL in a string.
Replies keep the original's wire: a refusal the original answers 200 with `ok: false` is
documented as a 200 whose `ok` is false, and the non-JSON answers (empty bodies, the plain-text
404 and signature error) are declared with their own media types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from ninja import Path, Schema
from pydantic import ConfigDict, Field, WithJsonSchema

I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1

# Security schemes: a worker proves itself with two headers at once; a manager with Django's
# session cookie; /worker/create in token mode with an API token.
WORKER = {"WorkerId": [], "WorkerSecret": []}
SESSION = {"ManagerSession": []}
ANONYMOUS: dict[str, list] = {}
SECURITY_SCHEMES = {
    "WorkerId": {"type": "apiKey", "in": "header", "name": "X-Worker-Id"},
    "WorkerSecret": {"type": "apiKey", "in": "header", "name": "X-Secret"},
    "ManagerSession": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
}


def _nullable(schema: dict) -> dict:
    # Go decodes `null` as the zero value, so every member may be null.
    return {"anyOf": [schema, {"type": "null"}]}


def _int(low: int, high: int, **extra: Any) -> Any:
    return Field(
        None,
        json_schema_extra=_nullable({"type": "integer", "minimum": low, "maximum": high, **extra}),
    )


I16 = _int(I16_MIN, I16_MAX)
I64 = _int(I64_MIN, I64_MAX)
# PostgreSQL text cannot hold NUL: a string with one is refused as unparseable.
NO_NUL = "^[^\\u0000]*$"


def _str(**extra: Any) -> Any:
    return Field(None, json_schema_extra=_nullable({"type": "string", "pattern": NO_NUL, **extra}))


def _bool() -> Any:
    return Field(None, json_schema_extra=_nullable({"type": "boolean"}))


def _required(schema: dict, **extra: Any) -> Any:
    # A member whose zero value the server refuses: present and not null.
    return Field(json_schema_extra={**schema, **extra})


ID = {"type": "integer", "minimum": 1, "maximum": I64_MAX}
TEXT_1 = {"type": "string", "minLength": 1, "pattern": NO_NUL}


def _object(*rules: dict, nullable: bool = True) -> dict:
    """model_config for a body: `null` is all zero values (when that is valid) and `allOf` holds
    the rules that tie members together."""

    def extra(schema: dict) -> None:
        if rules:
            schema["allOf"] = list(rules)
        if nullable:
            schema["nullable"] = True

    return ConfigDict(extra="allow", json_schema_extra=extra)


class Body(Schema):
    """A Go-decoded body: unknown members are ignored, each one may be missing or null."""

    model_config = _object()


# ---- request bodies --------------------------------------------------------------------


class AliasIn(Body):
    alias: str | None = _str()


# A task names either `hash_u64` or `unique_string` (the hash of which it stands for), not both.
_ONE_HASH = {
    "not": {
        "required": ["hash_u64", "unique_string"],
        "properties": {
            "hash_u64": {"type": "integer", "not": {"enum": [0]}},
            "unique_string": {"type": "string", "minLength": 1},
        },
    }
}


# Any JSON value at all, documented by what the server does with it.
AnyBody = {
    "description": 'An object `{"alias": string}`; any other body creates nothing and gets the '
    "original's 200 with an empty body.",
    "anyOf": [AliasIn.model_json_schema(), {}],
}


class SubmitIn(Body):
    model_config = _object(_ONE_HASH, nullable=False)

    project: int = _required(ID)
    max_retries: int | None = _int(0, I16_MAX)
    recipe: str = _required(TEXT_1)
    priority: int | None = I16
    max_assign_time: int | None = I64
    hash_u64: int | None = I64
    unique_string: str | None = _str()
    verification_count: int | None = I16


class BulkSubmitIn(Body):
    model_config = _object(nullable=False)

    requests: list[SubmitIn] = Field(
        json_schema_extra={"minItems": 1},
        description="Tasks, all of one project (400 otherwise).",
    )


class ReleaseIn(Body):
    model_config = _object(nullable=False)

    task_id: int = _required(ID)
    result: int | None = _int(I64_MIN, I64_MAX, description="0 OK, 1 FAIL, 2 SKIP")
    verification: int | None = I64


class LogIn(Body):
    model_config = _object(nullable=False)

    scope: str = _required(TEXT_1)
    message: str = _required(TEXT_1)
    timestamp: int = _required(ID, description="Unix seconds")


class LogQueryIn(Body):
    model_config = _object(nullable=False)

    level: int | None = I64
    since: int = _required(ID, description="Unix seconds")


# A rate of 0 or less means no limit; a positive one must be at least 1e-6 per second.
RATE = {"anyOf": [{"type": "number", "maximum": 0}, {"type": "number", "minimum": 1e-6}]}
# A project may not be both public and hidden.
_NOT_PUBLIC_AND_HIDDEN = {
    "not": {
        "required": ["public", "hidden"],
        "properties": {"public": {"enum": [True]}, "hidden": {"enum": [True]}},
    }
}


class ProjectIn(Body):
    model_config = _object(_NOT_PUBLIC_AND_HIDDEN, nullable=False)

    name: str = _required(TEXT_1)
    clone_url: str | None = _str()
    git_repo: str | None = _str()
    version: str | None = _str()
    priority: int | None = _int(0, I64_MAX)
    motd: str | None = _str()
    public: bool | None = _bool()
    hidden: bool | None = _bool()
    chain: int | None = _int(0, I64_MAX, description="0: no chain")
    assign_rate: float | None = Field(None, json_schema_extra=_nullable(RATE))
    submit_rate: float | None = Field(None, json_schema_extra=_nullable(RATE))


class ProjectUpdateIn(ProjectIn):
    paused: bool | None = _bool()


# Asking for nothing is refused.
_ASKS_FOR_SOMETHING = {
    "anyOf": [
        {"required": ["assign"], "properties": {"assign": {"enum": [True]}}},
        {"required": ["submit"], "properties": {"submit": {"enum": [True]}}},
    ]
}


class AccessRequestIn(Body):
    model_config = _object(_ASKS_FOR_SOMETHING, nullable=False)

    assign: bool | None = _bool()
    submit: bool | None = _bool()
    project: int = _required(ID)


class PausedIn(Body):
    model_config = _object(nullable=False)

    worker: int = _required(ID)
    paused: bool | None = _bool()


class SecretIn(Body):
    secret: str | None = _str()


class WebhookSecretIn(Body):
    webhook_secret: str | None = _str()


class CredentialsIn(Body):
    model_config = _object(nullable=False)

    username: str = _required(
        {"type": "string", "minLength": 3, "maxLength": 16, "pattern": NO_NUL}
    )
    password: str = _required({"type": "string", "minLength": 8, "pattern": NO_NUL})


class LoginIn(Body):
    username: str | None = _str()
    password: str | None = _str()


class RoleIn(Body):
    manager: int | None = I64
    role: int | None = _int(
        0, 31, description="Bitmask: READ 1, EDIT 2, MANAGE_ACCESS 4, SECRET 8, MAINTENANCE 16"
    )


class RepositoryIn(Body):
    full_name: str | None = _str()


class PushIn(Body):
    ref: str | None = _str()
    after: str | None = _str()
    repository: RepositoryIn | None = None


# ---- replies ---------------------------------------------------------------------------


class Reply(Schema):
    """The envelope of every JSON answer; empty members are left out."""

    ok: bool
    message: str | None = Field(None, description="Left out when empty.")
    content: Any = Field(None, description="Left out when empty.")


class ErrorReply(Schema):
    ok: bool = Field(description="Always false.")
    message: str | None = Field(None, description="Left out when empty.")


class RateLimitedReply(ErrorReply):
    rate_limit_delay: float = Field(description="Seconds to wait before the next try.")


# A path id: the original's router takes any segment, the handler a positive decimal int64.
PathId = Annotated[
    str,
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": I64_MAX}),
    Path(),
]

TEXT = {"text/plain": {"schema": {"type": "string"}}}
EMPTY = {"text/plain": {"schema": {"type": "string", "maxLength": 0}}}
# Django's default type for a bare HttpResponse (the original's empty 200s).
EMPTY_HTML = {"text/html": {"schema": {"type": "string", "maxLength": 0}}}
NO_BODY: dict = {}


@dataclass(frozen=True)
class Doc:
    """One route's document: its body, the statuses it answers and who may call it."""

    summary: str = ""
    body: type[Schema] | dict | None = None
    errors: tuple[int, ...] = ()
    security: tuple[dict, ...] = ()
    ok: Any = Reply
    # Non-JSON replies by status: {status: media types}.
    raw: dict[int, dict] = field(default_factory=dict)
    query: tuple[dict, ...] = ()
    headers: tuple[str, ...] = ()
    worker_headers: bool = False

    def responses(self) -> dict[int, Any]:
        out: dict[int, Any] = {200: self.ok}
        for status in self.errors:
            out[status] = RateLimitedReply if status == 429 else ErrorReply
        for status in self.raw:
            out.setdefault(status, None)
        return out

    def openapi_extra(self, path: str) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.body is not None:
            schema = (
                dict(self.body)
                if isinstance(self.body, dict)
                else self.body.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            extra["requestBody"] = {
                # The clients send no Content-Type; the body is read as JSON whatever it says.
                "content": {"application/json": {"schema": _inline(schema)}},
                "required": False,
            }
        if self.security:
            extra["security"] = [dict(s) for s in self.security]
        # Integer keys, as ninja's own: the two merge into one entry per status.
        responses: dict[int, Any] = {}
        for status, media in self.raw.items():
            responses[status] = {"content": media} if media else {}
        if "{" in path:
            # A segment the router cannot take (a `/` in it) is the original's plain 404.
            not_found = responses.setdefault(404, {"description": "Not Found"})
            not_found.setdefault("content", {}).update(TEXT)
        if responses:
            extra["responses"] = responses
        params = [
            {
                "name": name,
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": NO_NUL},
            }
            for name in self.headers
        ]
        if self.worker_headers:
            # /log/* answers a missing or wrong worker with the same 400 as a bad body, as the
            # original: plain headers rather than a security scheme (which promises 401/403).
            described = "The calling worker; missing or wrong is 400 `Could not parse request`."
            params += [
                {
                    "name": name,
                    "in": "header",
                    "required": False,
                    "description": described,
                    "schema": {"type": "string"},
                }
                for name in ("X-Worker-Id", "X-Secret")
            ]
        params += [dict(q) for q in self.query]
        if params:
            extra["parameters"] = params
        return extra


def _inline(schema: dict) -> dict:
    """The model's JSON schema with its $defs resolved in place (the document has no room for
    a per-body $defs)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                return resolve(dict(defs[ref.rsplit("/", 1)[-1]]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def query_int(name: str, low: int, high: int) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "schema": {"type": "integer", "minimum": low, "maximum": high},
    }


def as_openapi_30(document: dict) -> dict:
    """The document in OpenAPI 3.0, whose schemas are JSON Schema draft 4: there an `integer`
    is a number written without a fraction or exponent, which is Go's rule (the original
    refuses `1.0` for an int field). OpenAPI 3.1's `integer` admits `1.0`, which the tracker
    refuses, so a 3.1 document would promise more than the server accepts."""
    document["openapi"] = "3.0.3"
    return _nullable_30(document)


def _nullable_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_30(value) for key, value in node.items()}
    variants = node.get("anyOf")
    if isinstance(variants, list) and {"type": "null"} in variants:
        rest = [v for v in variants if v != {"type": "null"}]
        del node["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            node = {**node, **rest[0]}
        elif len(rest) == 1:
            node["allOf"] = rest
        else:
            node["anyOf"] = rest
        node["nullable"] = True
    return node
