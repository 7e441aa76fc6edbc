"""Workspaces: where job files live (a host directory or an S3-compatible bucket). Create, edit,
validate, and the default workspace a fresh install has (`SCALE_DEFAULT_WORKSPACE`, a
directory in the data directory, created on first use).

A workspace's S3 credentials are kept out of its configuration row: they are encrypted in the
secret store (domain/jobs/secret_store.py) and shown to no one.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from domain.common.errors import InvalidInput, NotFound
from domain.common.transitions import log_transition
from domain.jobs import conf
from domain.jobs.jsonschemas import WORKSPACE_CONFIGURATION, schema_violation
from domain.jobs.models import BrokerType, Workspace
from domain.jobs.problems import Problem, SpecInvalid, Validation, WorkspaceInvalid
from domain.jobs.secret_store import secret_values_merge

EDITABLE = frozenset({"title", "description", "base_url", "is_active", "configuration"})


def workspace_config_parse(document: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A valid configuration, split into what is stored in the row (no `version`, no
    credentials) and the S3 credentials ({} when none)."""
    violation = schema_violation(WORKSPACE_CONFIGURATION, document)
    if violation is not None:
        name = "INVALID_VERSION" if violation.location == "version" else "INVALID_CONFIGURATION"
        raise WorkspaceInvalid(name, f"Invalid configuration: {violation}")
    broker = dict(document["broker"])
    credentials = broker.pop("credentials", {})
    host_path = broker.get("host_path")
    if host_path is not None and not posixpath.isabs(host_path):
        raise WorkspaceInvalid("INVALID_CONFIGURATION", "broker.host_path must be absolute")
    endpoint = broker.get("endpoint_url")
    if endpoint is not None and not _is_http_url(endpoint):
        raise WorkspaceInvalid(
            "INVALID_CONFIGURATION", "broker.endpoint_url must be an http(s) URL"
        )
    return {"broker": broker}, credentials


def _is_http_url(value: str) -> bool:
    try:
        parsed = urlparse(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def workspace_name_from_title(title: str) -> str:
    """The original names a new workspace after its title: `Raw Source` → `raw-source`."""
    name = re.sub(r"[^a-z0-9_-]+", "-", title.lower()).strip("-")[:50].rstrip("-")
    if not name:
        raise InvalidInput("title must contain a letter or a digit to name the workspace")
    return name


def workspace_create(
    *,
    title: str,
    configuration: Any,
    name: str | None = None,
    description: str = "",
    base_url: str | None = None,
    is_active: bool = True,
) -> Workspace:
    """A new workspace; a name already taken is refused (400)."""
    json_config, credentials = workspace_config_parse(configuration)
    name = name if name is not None else workspace_name_from_title(title)
    _check_name(name)
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(
                name=name,
                title=title,
                description=description,
                base_url=base_url,
                is_active=is_active,
                deprecated=None if is_active else timezone.now(),
                json_config=json_config,
            )
            secret_values_merge(key=workspace.secrets_key, values=credentials)
    except IntegrityError as exc:
        raise InvalidInput(f"A workspace named {name!r} already exists") from exc
    return workspace


def _check_name(name: str) -> None:
    if not conf.WORKSPACE_NAME.fullmatch(name):
        raise InvalidInput("name must be 1 to 50 letters, digits, `_` or `-`")
    if Workspace.objects.filter(name=name).exists():
        raise InvalidInput(f"A workspace named {name!r} already exists")


def workspace_edit(*, workspace_id: int, changes: Mapping[str, Any]) -> Workspace:
    """Change the `EDITABLE` fields given. Stored credentials are kept unless new ones are
    given (no caller can read them back to send them again)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().filter(pk=workspace_id).first()
        if workspace is None:
            raise NotFound("Not found.")
        fields = {k: v for k, v in changes.items() if k in ("title", "description", "base_url")}
        if "configuration" in changes:
            fields["json_config"], credentials = workspace_config_parse(changes["configuration"])
            secret_values_merge(key=workspace.secrets_key, values=credentials)
        if "is_active" in changes:
            fields.update(_activation(workspace, changes["is_active"]))
        for field, value in fields.items():
            setattr(workspace, field, value)
        workspace.save()
    return workspace


def _activation(workspace: Workspace, is_active: bool) -> dict[str, Any]:
    if is_active == workspace.is_active:
        return {}
    log_transition(
        aggregate="jobs.workspace",
        aggregate_id=workspace.pk,
        source=str(workspace.is_active).lower(),
        target=str(is_active).lower(),
        field_name="is_active",
    )
    return {"is_active": is_active, "deprecated": None if is_active else timezone.now()}


def workspace_validate(*, configuration: Any, name: str | None = None) -> Validation:
    """What creating (or, with the name of an existing workspace, editing) would find."""
    result = Validation()
    try:
        json_config, _ = workspace_config_parse(configuration)
    except SpecInvalid as exc:
        result.errors.append(exc.problem)
        return result
    existing = Workspace.objects.filter(name=name).first() if name else None
    if existing is not None and existing.broker_type != json_config["broker"]["type"]:
        result.warnings.append(
            Problem("broker_type", "Changing the broker type may disrupt queued/running jobs.")
        )
    return result


def workspace_default_ensure() -> Workspace:
    """The default workspace, created on first use: a host directory in the data directory."""
    name = conf.default_workspace_name()
    directory = Path(settings.DATA_DIR) / "workspaces" / name
    workspace, created = Workspace.objects.get_or_create(
        name=name,
        defaults={
            "title": "Default",
            "description": "Outputs of job types whose configuration names no workspace.",
            "json_config": {"broker": {"type": BrokerType.HOST, "host_path": str(directory)}},
        },
    )
    if created:
        directory.mkdir(parents=True, exist_ok=True)
    return workspace
