"""Records of the releases family that are not state: release notes and events, and the plain
field updates and deletes of the notes and events endpoints."""

from __future__ import annotations

from typing import Any

from domain.common.errors import NotFound
from domain.common.rows import row_save_fields
from domain.releases.errors import FieldErrors
from domain.releases.models import Event, Release, ReleaseNote, Study, Task, TaskService


def _check_note_refs(release_id: str | None, study_id: str | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if release_id is not None and not Release.objects.filter(pk=release_id).exists():
        errors["release"] = [f'Invalid hyperlink - Object "{release_id}" does not exist.']
    if study_id is not None and not Study.objects.filter(pk=study_id).exists():
        errors["study"] = [f'Invalid hyperlink - Object "{study_id}" does not exist.']
    in_release = Release.objects.filter(pk=release_id, studies__kf_id=study_id).exists
    if not errors and release_id and study_id and not in_release():
        errors["study"] = [f"Study {study_id} is not in release {release_id}."]
    return errors


def note_create(
    *, release_id: str, description: str = "", author: str = "admin", study_id: str | None = None
) -> ReleaseNote:
    errors = _check_note_refs(release_id, study_id)
    if errors:
        raise FieldErrors(errors)
    return ReleaseNote.objects.create(
        release_id=release_id, study_id=study_id, description=description, author=author or "admin"
    )


def note_update(*, note_id: str, fields: dict[str, Any]) -> ReleaseNote:
    note = ReleaseNote.objects.filter(pk=note_id).first()
    if note is None:
        raise NotFound("Not found.")
    release_id = fields.get("release_id", note.release_id)
    study_id = fields.get("study_id", note.study_id)
    errors = _check_note_refs(release_id, study_id)
    if errors:
        raise FieldErrors(errors)
    row_save_fields(row=note, fields=fields)
    return note


def event_create(*, fields: dict[str, Any]) -> Event:
    refs = {
        "release": (Release, fields.get("release_id")),
        "task": (Task, fields.get("task_id")),
        "task_service": (TaskService, fields.get("task_service_id")),
        "study": (Study, fields.get("study_id")),
    }
    errors = {
        name: [f'Invalid hyperlink - Object "{pk}" does not exist.']
        for name, (model, pk) in refs.items()
        if pk is not None and not model.objects.filter(pk=pk).exists()
    }
    if errors:
        raise FieldErrors(errors)
    fields = dict(fields)
    task_id = fields.get("task_id")
    if task_id and not fields.get("release_id"):
        # An event about a task belongs to that task's release and service too.
        task = Task.objects.get(pk=task_id)
        fields["release_id"] = task.release_id
        fields.setdefault("task_service_id", task.task_service_id)
        if fields["task_service_id"] is None:
            fields["task_service_id"] = task.task_service_id
    return Event.objects.create(**fields)


def record_update(*, model: type, pk: str, fields: dict[str, Any]) -> Any:
    row = model.objects.filter(pk=pk).first()
    if row is None:
        raise NotFound("Not found.")
    row_save_fields(row=row, fields=fields)
    return row


def record_delete(*, model: type, pk: str) -> None:
    deleted, _ = model.objects.filter(pk=pk).delete()
    if not deleted:
        raise NotFound("Not found.")


def step_failure_record(*, release_id: str | None, step: str, error: str) -> Event:
    """A canvas step failed (its errback runs this): an error event says which step and why.
    The reconciler re-drives the release later; the event tells an operator what happened."""
    exists = release_id is not None and Release.objects.filter(pk=release_id).exists()
    subject = f"release {release_id}" if release_id else "a releases step"
    return Event.objects.create(
        event_type="error",
        message=f"step {step} of {subject} failed: {error}"[:1000],
        release_id=release_id if exists else None,
    )
