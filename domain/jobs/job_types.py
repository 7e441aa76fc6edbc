"""Where a job type changes: create (or new version, or upsert), edit, and dry-run validation
(specs/scale-and-flotilla.md A.4–A.6).

    job_type_create ──(name+version exists)──▶ job_type_edit with the manifest (revision + 1)
          │ new
          ▼
    manifest → configuration → name refused? → row, revision 1, tags, errors, secrets

`revision_num` moves only when a manifest is given (A.5), even an identical one. QUIRK fixed:
`max_scheduled` and `is_published` may be reset to null / false (the original applied them only
when truthy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from domain.common.errors import InvalidInput, NotFound
from domain.common.transitions import log_transition
from domain.jobs.configuration import (
    configuration_check,
    configuration_parse,
    resources_check,
    secrets_split,
)
from domain.jobs.error_catalog import job_type_errors_upsert
from domain.jobs.manifest import SeedManifest, manifest_parse
from domain.jobs.models import ICON_CODE_MAX, JobType, JobTypeRevision, JobTypeTag
from domain.jobs.problems import Problem, SpecInvalid, Validation
from domain.jobs.secret_store import secret_names, secret_values_merge
from domain.jobs.versions import version_array

# Names that are routes of their own under /v6/job-types/: a job type so named could not be read.
RESERVED_NAMES = frozenset({"validation", "status", "pending", "running", "system-failures"})
EDITABLE = frozenset(
    {"icon_code", "is_published", "is_active", "is_paused", "max_scheduled", "docker_image"}
)
DOCKER_IMAGE_MAX = 1000
MAX_SCHEDULED_MAX = 2**31 - 1


class JobTypeNameReserved(SpecInvalid):
    what = "Job type"

    def __init__(self, name: str) -> None:
        super().__init__("RESERVED_NAME", f'Unable to create job type named "{name}"')


@dataclass(frozen=True)
class JobTypeSaved:
    job_type: JobType
    created: bool
    validation: Validation


def job_type_create(
    *,
    docker_image: str,
    manifest: Any,
    configuration: Any = None,
    options: Mapping[str, Any] | None = None,
) -> JobTypeSaved:
    """Add a job type, or a new version of one. On an existing name+version this is an edit
    with the manifest (A.4). `options` holds the optional fields given (`EDITABLE`)."""
    options = dict(options or {})
    _check_fields({**options, "docker_image": docker_image})
    seed = manifest_parse(manifest)
    config = configuration_parse(configuration)
    if seed.name in RESERVED_NAMES:
        raise JobTypeNameReserved(seed.name)
    changes = {**options, "docker_image": docker_image}
    edit = {"changes": changes, "manifest": manifest, "configuration": configuration}
    with transaction.atomic():
        if JobType.objects.filter(name=seed.name, version=seed.job_version).exists():
            return job_type_edit(name=seed.name, version=seed.job_version, **edit)
        try:
            with transaction.atomic():
                return JobTypeSaved(_insert(seed, config, changes), True, Validation())
        except IntegrityError:
            # Another request created this name+version first: ours is an edit of it.
            return job_type_edit(name=seed.name, version=seed.job_version, **edit)


def _insert(seed: SeedManifest, config: dict[str, Any], changes: dict[str, Any]) -> JobType:
    configuration_check(config, seed)
    public, secret = secrets_split(config, seed)
    now = timezone.now()
    job_type = JobType.objects.create(
        name=seed.name,
        version=seed.job_version,
        version_array=version_array(seed.job_version),
        title=seed.title,
        description=seed.description,
        icon_code=changes.get("icon_code"),
        is_published=changes.get("is_published", False),
        is_active=changes.get("is_active", True),
        is_paused=changes.get("is_paused", False),
        max_scheduled=changes.get("max_scheduled"),
        docker_image=changes["docker_image"],
        manifest=seed.document,
        configuration=public,
        deprecated=None if changes.get("is_active", True) else now,
        paused=now if changes.get("is_paused", False) else None,
    )
    _manifest_applied(job_type, seed)
    secret_values_merge(key=job_type.secrets_key, values=secret)
    return job_type


def job_type_edit(
    *,
    name: str,
    version: str,
    changes: Mapping[str, Any] | None = None,
    manifest: Any = None,
    configuration: Any = None,
) -> JobTypeSaved:
    """Edit one job type (A.5); 200 `{is_valid, errors, warnings}` for the caller."""
    changes = dict(changes or {})
    _check_fields(changes)
    with transaction.atomic():
        job_type = JobType.objects.select_for_update().filter(name=name, version=version).first()
        if job_type is None:
            raise NotFound("Not found.")
        _check_system(job_type, changes, manifest, configuration)
        seed = _edited_manifest(job_type, manifest)
        warnings = _edited_configuration(job_type, seed, configuration, given=manifest is not None)
        _apply(job_type, changes)
        if manifest is not None:
            job_type.manifest = seed.document
            job_type.title, job_type.description = seed.title, seed.description
            job_type.revision_num += 1
            job_type.unmet_resources = None
        job_type.save()
        if manifest is not None:
            _manifest_applied(job_type, seed)
    return JobTypeSaved(job_type, False, Validation(warnings=warnings))


def _check_system(job_type: JobType, changes: dict, manifest: Any, configuration: Any) -> None:
    others = set(changes) - {"is_paused"}
    if job_type.is_system and (others or manifest is not None or configuration is not None):
        raise InvalidInput("You can only modify the is_paused field for a System Job")


def _edited_manifest(job_type: JobType, manifest: Any) -> SeedManifest:
    if manifest is None:
        return SeedManifest(job_type.manifest)
    seed = manifest_parse(manifest)
    if (seed.name, seed.job_version) != (job_type.name, job_type.version):
        raise InvalidInput(
            f"The manifest's job name and jobVersion ({seed.name} {seed.job_version}) must be "
            f"the job type's ({job_type.name} {job_type.version})"
        )
    return seed


def _edited_configuration(
    job_type: JobType, seed: SeedManifest, configuration: Any, *, given: bool
) -> list[Problem]:
    """A new configuration is checked and stored (its secrets in the secret store); with only a
    new manifest, the stored configuration is checked against it (A.5)."""
    if configuration is None and not given:
        return []
    stored = secret_names(key=job_type.secrets_key)
    if configuration is None:
        config = configuration_parse(job_type.configuration)
        return configuration_check(config, seed, stored_secrets=stored)
    config = configuration_parse(configuration)
    warnings = configuration_check(config, seed, stored_secrets=stored)
    job_type.configuration, secret = secrets_split(config, seed)
    secret_values_merge(key=job_type.secrets_key, values=secret)
    return warnings


def _apply(job_type: JobType, changes: dict[str, Any]) -> None:
    now = timezone.now()
    for flag, stamp in (("is_active", "deprecated"), ("is_paused", "paused")):
        if flag in changes and changes[flag] != getattr(job_type, flag):
            _log_flag(job_type, flag, changes[flag])
            # `deprecated` is set when deactivated; `paused` when paused.
            stamped = changes[flag] if flag == "is_paused" else not changes[flag]
            setattr(job_type, stamp, now if stamped else None)
    for field, value in changes.items():
        setattr(job_type, field, value)


def _log_flag(job_type: JobType, flag: str, value: bool) -> None:
    log_transition(
        aggregate="jobs.jobtype",
        aggregate_id=job_type.pk,
        source=str(getattr(job_type, flag)).lower(),
        target=str(value).lower(),
        field_name=flag,
    )


def _manifest_applied(job_type: JobType, seed: SeedManifest) -> None:
    """What follows a manifest: its revision row, its tags, its errors."""
    JobTypeRevision.objects.create(
        job_type=job_type,
        revision_num=job_type.revision_num,
        manifest=seed.document,
        docker_image=job_type.docker_image,
    )
    JobTypeTag.objects.filter(job_type=job_type).delete()
    JobTypeTag.objects.bulk_create(JobTypeTag(job_type=job_type, tag=t) for t in seed.tags)
    job_type_errors_upsert(manifest=seed)


def _check_fields(changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    limit = changes.get("max_scheduled")
    if limit is not None and not 0 <= limit <= MAX_SCHEDULED_MAX:
        raise InvalidInput(f"max_scheduled must be null or from 0 to {MAX_SCHEDULED_MAX}")
    image = changes.get("docker_image")
    if "docker_image" in changes and not (image and len(image) <= DOCKER_IMAGE_MAX):
        raise InvalidInput(f"docker_image must be 1 to {DOCKER_IMAGE_MAX} characters")
    icon = changes.get("icon_code")
    if icon is not None and len(icon) > ICON_CODE_MAX:
        raise InvalidInput(f"icon_code must be at most {ICON_CODE_MAX} characters")


def job_type_validate(*, manifest: Any, configuration: Any = None) -> Validation:
    """What `job_type_create` would find, without saving anything: always an answer, never a
    refusal (the manifest's or configuration's first error is in `errors`)."""
    result = Validation()
    try:
        seed = manifest_parse(manifest)
        config = configuration_parse(configuration)
        if seed.name in RESERVED_NAMES:
            raise JobTypeNameReserved(seed.name)
        result.warnings += configuration_check(config, seed)
        result.warnings += resources_check(seed)
    except SpecInvalid as exc:
        result.errors.append(exc.problem)
    return result
