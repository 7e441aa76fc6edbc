"""Where a task definition is created, changed and deleted."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, transaction

from domain.common.errors import Conflict, InvalidInput, NotFound
from domain.executions.services import executions_delete
from domain.runs.envs import env_as_json, env_checked, env_index
from domain.runs.execute import OWNER_TYPE as RUN_OWNER_TYPE
from domain.runs.models import ACTIVE_STATUSES, Definition, Tag

# The 2019 rule: a group name is part of the definition's id, which is part of URLs.
GROUP_NAME = re.compile(r"^[a-zA-Z0-9_\-.]*$")
MAX_TAGS = 100
# What PUT may change (spec B.3); a missing, null or empty value keeps the stored one.
MERGED_FIELDS = (
    "image",
    "group_name",
    "alias",
    "memory",
    "gpu",
    "cpu",
    "ephemeral_storage",
    "adaptive_resource_allocation",
    "command",
    "task_type",
    "env",
    "ports",
    "tags",
)


def new_definition_id(group_name: str) -> str:
    return f"{group_name}-{uuid.uuid4()}"


def definition_create(
    *,
    alias: str,
    image: str,
    group_name: str = "",
    command: str = "",
    task_type: str = "",
    requires_docker: bool = False,
    target_cluster: str = "",
    memory: int | None = None,
    cpu: int | None = None,
    gpu: int | None = None,
    ephemeral_storage: int | None = None,
    env: list[tuple[str, str]] | None = None,
    adaptive_resource_allocation: bool | None = None,
    ports: list[int] | None = None,
    tags: list[str] | None = None,
) -> Definition:
    _check_required(image=image, alias=alias)
    _check_names(group_name=group_name, alias=alias)
    if Definition.objects.filter(alias=alias).exists():
        raise _alias_taken(alias)
    pairs = env_checked(env)
    definition = Definition(
        definition_id=new_definition_id(group_name),
        group_name=group_name,
        alias=alias,
        image=image,
        command=command,
        task_type=task_type or "task",
        requires_docker=requires_docker,
        target_cluster=target_cluster,
        memory=_amount("memory", memory),
        cpu=_amount("cpu", cpu),
        gpu=_amount("gpu", gpu),
        ephemeral_storage=_amount("ephemeral_storage", ephemeral_storage),
        env=env_as_json(pairs),
        env_index=env_index(pairs),
        adaptive_resource_allocation=adaptive_resource_allocation,
        ports=_ports(ports or []),
    )
    tag_rows = _tags(tags or [])
    with _alias_unique(alias), transaction.atomic():
        definition.save(force_insert=True)
        definition.tags.set(tag_rows)
    return definition


def definition_update(*, definition_id: str, changes: dict[str, Any]) -> Definition:
    """The original's merge: each field of MERGED_FIELDS that is given, not null and not an
    empty string replaces the stored one; lists (env, ports, tags) are replaced whole."""
    given = {k: v for k, v in changes.items() if k in MERGED_FIELDS and v is not None and v != ""}
    with _alias_unique(given.get("alias", "")), transaction.atomic():
        definition = Definition.objects.select_for_update().filter(pk=definition_id).first()
        if definition is None:
            raise _missing(definition_id)
        _check_names(
            group_name=given.get("group_name", definition.group_name),
            alias=given.get("alias", definition.alias),
        )
        tags = given.pop("tags", None)
        _apply(definition, given)
        definition.save()
        if tags is not None:
            definition.tags.set(_tags(tags))
    return definition


def definition_delete(*, definition_id: str) -> None:
    """Delete the definition, its finished runs and their executions with their logs. Refused
    (409) while any of its runs is queued, launching, running or waiting for a retry: deleting
    it then would orphan them (issue #57 of the original)."""
    with transaction.atomic():
        definition = Definition.objects.select_for_update().filter(pk=definition_id).first()
        if definition is None:
            raise _missing(definition_id)
        active = definition.runs.filter(status__in=ACTIVE_STATUSES).count()
        if active:
            raise Conflict(
                f"definition {definition_id} has {active} active run(s); stop them before "
                "deleting it"
            )
        runs = list(definition.runs.values_list("pk", flat=True))
        executions_delete(owner_type=RUN_OWNER_TYPE, owner_ids=runs)
        definition.runs.all().delete()
        definition.delete()


def _missing(definition_id: str) -> NotFound:
    return NotFound(f"Definition with ID {definition_id} not found")


def _check_required(*, image: str, alias: str) -> None:
    reasons = [
        f"string [{name}] must be specified"
        for name, value in (("image", image), ("alias", alias))
        if not value
    ]
    if reasons:
        raise InvalidInput("\n".join(reasons))


def _check_names(*, group_name: str, alias: str) -> None:
    if len(group_name) > 255 or not GROUP_NAME.match(group_name):
        raise InvalidInput("group_name must match ^[a-zA-Z0-9_\\-.]*$ and be at most 255 long")
    # Both are parts of URLs (/task/alias/{alias}, /task/{group_name-uuid}).
    if len(alias) > 255 or "/" in alias:
        raise InvalidInput("alias must be at most 255 characters and hold no '/'")


def _amount(name: str, value: int | None) -> int | None:
    if value is not None and not 0 <= value < 2**31:
        raise InvalidInput(f"{name} must be between 0 and {2**31 - 1}")
    return value


def _ports(ports: list[int]) -> list[int]:
    if any(not 0 < port < 65536 for port in ports):
        raise InvalidInput("ports must be between 1 and 65535")
    return list(ports)


def _tags(texts: list[str]) -> list[Tag]:
    if len(texts) > MAX_TAGS or any(not text or len(text) > 255 for text in texts):
        raise InvalidInput(f"tags must be at most {MAX_TAGS} non-empty texts of up to 255")
    rows = []
    for text in dict.fromkeys(texts):
        rows.append(Tag.objects.get_or_create(text=text)[0])
    return rows


def _apply(definition: Definition, given: dict[str, Any]) -> None:
    for name, value in given.items():
        if name == "env":
            pairs = env_checked(value)
            definition.env, definition.env_index = env_as_json(pairs), env_index(pairs)
        elif name == "ports":
            definition.ports = _ports(value)
        elif name in ("memory", "cpu", "gpu", "ephemeral_storage"):
            setattr(definition, name, _amount(name, value))
        else:
            setattr(definition, name, value)


@contextmanager
def _alias_unique(alias: str) -> Iterator[None]:
    """Turns the alias's unique constraint (a concurrent create) into the original's 409."""
    try:
        yield
    except IntegrityError as exc:
        if "alias" not in str(exc):
            raise
        raise _alias_taken(alias) from None


def _alias_taken(alias: str) -> Conflict:
    return Conflict(f"definition with alias [{alias}] already exists")
