"""Reads of the releases family: filtered querysets and the context an outbound call needs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import DateTimeField, OuterRef, QuerySet, Subquery

from domain.releases.models import Release, ReleaseState, Study, Task


@dataclass(frozen=True)
class TaskContext:
    task_id: str
    state: str
    pending_action: str
    release_id: str
    release_state: str
    service_id: str
    service_url: str
    service_token: str
    studies: list[str]


def task_contexts(task_ids: list[str], *, with_studies: bool = True) -> dict[str, TaskContext]:
    """The contexts of many tasks in two queries (an outbound batch loads them at once)."""
    tasks = list(Task.objects.select_related("release", "task_service").filter(pk__in=task_ids))
    studies: dict[str, list[str]] = {}
    if with_studies:
        links = Release.studies.through.objects.filter(
            release_id__in={t.release_id for t in tasks}
        ).order_by("study_id")
        for release_id, study_id in links.values_list("release_id", "study_id"):
            studies.setdefault(release_id, []).append(study_id)
    return {
        task.kf_id: TaskContext(
            task_id=task.kf_id,
            state=task.state,
            pending_action=task.pending_action,
            release_id=task.release_id,
            release_state=task.release.state,
            service_id=task.task_service_id,
            service_url=task.task_service.url,
            service_token=task.task_service.outbound_token,
            studies=studies.get(task.release_id, []),
        )
        for task in tasks
    }


def releases() -> QuerySet[Release]:
    return Release.objects.prefetch_related("studies", "notes", "tasks__task_service").order_by(
        "-created_at"
    )


def tasks() -> QuerySet[Task]:
    return Task.objects.select_related("task_service").order_by("-created_at")


def studies() -> QuerySet[Study]:
    """Studies with spec §1's computed fields: the newest release's version, and the version and
    created_at of the newest published release that contains the study."""
    newest = Release.objects.filter(studies=OuterRef("pk")).order_by("-created_at")
    published = newest.filter(state=ReleaseState.PUBLISHED)
    return Study.objects.annotate(
        current_version=Subquery(newest.values("version")[:1]),
        last_pub_version=Subquery(published.values("version")[:1]),
        last_pub_date=Subquery(published.values("created_at")[:1], output_field=DateTimeField()),
    ).order_by("-created_at", "kf_id")
