"""The errors a job can fail with (specs/scale-and-flotilla.md A.10): the builtin ones, seeded as
rows by a data migration, and each job type's own, taken from its manifest's `errors`."""

from __future__ import annotations

from domain.jobs.manifest import SeedManifest
from domain.jobs.models import Error, ErrorCategory

SYSTEM, ALGORITHM = ErrorCategory.SYSTEM, ErrorCategory.ALGORITHM

# (name, title, description, category, should_be_retried)
BUILTIN_ERRORS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("unknown", "Unknown", "The cause of the failure is unknown.", SYSTEM, True),
    ("database", "Database", "The database could not be reached.", SYSTEM, True),
    ("database-operation", "Database Operation", "A database operation failed.", SYSTEM, True),
    ("filesystem-io", "Filesystem I/O", "Reading or writing a file failed.", SYSTEM, True),
    ("task-launch", "Task Launch", "The task could not be launched.", SYSTEM, True),
    ("docker-task-launch", "Docker Task Launch", "The container could not start.", SYSTEM, True),
    ("docker-terminated", "Docker Terminated", "The container was terminated.", SYSTEM, True),
    ("node-lost", "Node Lost", "The host running the task stopped reporting.", SYSTEM, True),
    (
        "resource-starvation",
        "Resource Starvation",
        "The task ran out of a resource it was given.",
        SYSTEM,
        True,
    ),
    ("launch-timeout", "Launch Timeout", "The task did not start in time.", SYSTEM, True),
    ("pull-timeout", "Pull Timeout", "The image was not pulled in time.", SYSTEM, True),
    ("pre-timeout", "Pre-Task Timeout", "Preparing the inputs timed out.", SYSTEM, True),
    ("post-timeout", "Post-Task Timeout", "Storing the outputs timed out.", SYSTEM, True),
    ("system-timeout", "System Timeout", "A system job ran past its timeout.", SYSTEM, True),
    ("pull", "Image Pull", "The image could not be pulled.", SYSTEM, True),
    ("timeout", "Timeout", "The job ran past the timeout of its manifest.", ALGORITHM, False),
    (
        "algorithm-unknown",
        "Algorithm Unknown",
        "The job exited with a code its manifest does not map.",
        ALGORITHM,
        False,
    ),
    (
        "invalid-results-manifest",
        "Invalid Results Manifest",
        "seed.outputs.json could not be read.",
        ALGORITHM,
        False,
    ),
    (
        "missing-required-output",
        "Missing Required Output",
        "A required output was not produced.",
        ALGORITHM,
        False,
    ),
    (
        "unexpected-multiple-outputs",
        "Unexpected Multiple Outputs",
        "Several files matched an output that takes one.",
        ALGORITHM,
        False,
    ),
    ("missing-setting", "Missing Setting", "A setting of the job has no value.", SYSTEM, False),
    ("missing-mount", "Missing Mount", "A mount of the job is not configured.", SYSTEM, False),
)


def job_type_errors_upsert(*, manifest: SeedManifest) -> None:
    """A job type's errors as rows under its name: category `data` is DATA, any other
    ALGORITHM; none is retried (A.10)."""
    for declared in manifest.errors:
        category = ErrorCategory.DATA if declared["category"] == "data" else ALGORITHM
        Error.objects.update_or_create(
            job_type_name=manifest.name,
            name=declared["name"],
            defaults={
                "title": declared["title"],
                "description": declared.get("description", ""),
                "category": category,
                "is_builtin": False,
                "should_be_retried": False,
            },
        )


def builtin_error(name: str) -> Error:
    """The builtin error `name`. Seeded by a data migration; made again from the catalogue if
    its row is gone (a database emptied and not migrated again), so an ending never fails."""
    found = Error.objects.filter(job_type_name__isnull=True, name=name).first()
    if found is not None:
        return found
    _, title, description, category, retried = next(e for e in BUILTIN_ERRORS if e[0] == name)
    error, _ = Error.objects.get_or_create(
        job_type_name=None,
        name=name,
        defaults={
            "title": title,
            "description": description,
            "category": category,
            "is_builtin": True,
            "should_be_retried": retried,
        },
    )
    return error
