"""Reads of the Scale family: job types, their names, versions and revisions; workspaces."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from domain.common.errors import NotFound
from domain.jobs.models import JobType, JobTypeRevision, Workspace
from domain.jobs.secret_store import secret_names_many, secret_values_read
from domain.jobs.versions import version_order_key

JOB_TYPE_ORDER_FIELDS = frozenset(
    {
        "id",
        "name",
        "version",
        "title",
        "is_active",
        "is_paused",
        "is_system",
        "is_published",
        "max_scheduled",
        "revision_num",
        "created",
        "last_modified",
    }
)
WORKSPACE_ORDER_FIELDS = frozenset({"id", "name", "title", "is_active", "created", "last_modified"})
MASKED = "************"


def job_types(
    *,
    keywords: Sequence[str] = (),
    ids: Sequence[int] = (),
    is_active: bool | None = None,
    is_system: bool | None = None,
    order: Sequence[str] = (),
) -> QuerySet[JobType]:
    """Every name/version row matching the filters; `order` fields may start with `-`."""
    rows = JobType.objects.all()
    if keywords:
        match = Q()
        for word in keywords:
            match |= Q(name__icontains=word) | Q(tags__tag__icontains=word)
        rows = rows.filter(pk__in=JobType.objects.filter(match).values("pk"))
    if ids:
        rows = rows.filter(pk__in=ids)
    if is_active is not None:
        rows = rows.filter(is_active=is_active)
    if is_system is not None:
        rows = rows.filter(is_system=is_system)
    return rows.order_by(*order, "name", "version")


@dataclass(frozen=True)
class JobTypeName:
    """One name and its latest version (`versions` in no particular order, as the original)."""

    latest: JobType
    versions: list[str]

    def __getattr__(self, field: str) -> Any:
        return getattr(self.latest, field)

    @property
    def latest_version(self) -> str:
        return self.latest.version


def job_type_names(**filters: Any) -> list[JobTypeName]:
    """One entry per distinct name among the rows `job_types(**filters)` finds, by name."""
    by_name: dict[str, list[JobType]] = {}
    for row in job_types(**filters):
        by_name.setdefault(row.name, []).append(row)
    return [
        JobTypeName(latest=_latest(rows), versions=[r.version for r in rows])
        for name, rows in sorted(by_name.items())
    ]


def _latest(rows: list[JobType]) -> JobType:
    return max(rows, key=lambda r: version_order_key(r.version_array))


def job_type_versions(*, name: str, is_active: bool | None = None) -> list[JobType]:
    """The versions of one name, latest first (the original sorted the strings, so 10.0.0 came
    after 9.0.0); an unknown name has none."""
    rows = JobType.objects.filter(name=name)
    if is_active is not None:
        rows = rows.filter(is_active=is_active)
    return sorted(rows, key=lambda r: version_order_key(r.version_array), reverse=True)


def job_type_get(*, name: str, version: str) -> JobType:
    job_type = JobType.objects.filter(name=name, version=version).first()
    if job_type is None:
        raise NotFound("Not found.")
    return job_type


def job_type_revisions(*, name: str, version: str) -> QuerySet[JobTypeRevision]:
    job_type = job_type_get(name=name, version=version)
    return job_type.revisions.select_related("job_type").order_by("-revision_num")


def job_type_revision_get(*, name: str, version: str, revision_num: int) -> JobTypeRevision:
    revision = job_type_revisions(name=name, version=version).filter(revision_num=revision_num)
    found = revision.first()
    if found is None:
        raise NotFound("Not found.")
    return found


def job_type_secrets(*, job_type: JobType) -> dict[str, str]:
    """The secret settings' values, for the job that runs (never for an endpoint)."""
    return secret_values_read(key=job_type.secrets_key)


def job_types_secret_names(*, job_types: Iterable[JobType]) -> dict[int, frozenset[str]]:
    """The names of the secret settings the store holds for each job type, in one query (the
    scheduler checks a pass's jobs at once)."""
    by_key = {job_type.secrets_key: job_type.pk for job_type in job_types}
    return {by_key[key]: names for key, names in secret_names_many(keys=list(by_key)).items()}


def workspaces(
    *,
    names: Sequence[str] = (),
    started: datetime | None = None,
    ended: datetime | None = None,
    order: Sequence[str] = (),
) -> QuerySet[Workspace]:
    """Workspaces matching the filters; `started`/`ended` bound `last_modified`."""
    rows = Workspace.objects.all()
    if names:
        rows = rows.filter(name__in=names)
    if started is not None:
        rows = rows.filter(last_modified__gte=started)
    if ended is not None:
        rows = rows.filter(last_modified__lte=ended)
    return rows.order_by(*order, "name")


def workspace_get(*, workspace_id: int) -> Workspace:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        raise NotFound("Not found.")
    return workspace


def workspace_configuration_shown(*, workspace: Workspace) -> dict[str, Any]:
    """The configuration as any caller may see it: stored credentials masked, as the original
    sanitized them."""
    shown = {"broker": dict(workspace.json_config.get("broker", {}))}
    if secret_values_read(key=workspace.secrets_key):
        shown["broker"]["credentials"] = {"access_key_id": MASKED, "secret_access_key": MASKED}
    return shown


def workspace_credentials(*, workspace: Workspace) -> dict[str, str]:
    """The S3 credentials, for the file store (never for an endpoint)."""
    return secret_values_read(key=workspace.secrets_key)
