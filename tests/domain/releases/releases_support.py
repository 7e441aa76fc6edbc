"""Releases in the states the domain tests start from."""

from __future__ import annotations

from domain.releases import services, task_services
from domain.releases.models import Study

STUDY = "SD_00000001"


def running_release(n_services: int = 2, *, acknowledged: bool = True) -> tuple[str, list[str]]:
    """A running release with one task per new service, each sent `start`, and (unless
    `acknowledged` is false) each start answered. Returns its id and its tasks' ids."""
    Study.objects.get_or_create(kf_id=STUDY)
    for i in range(n_services):
        task_services.task_service_create(name=f"s{i}", url=f"http://s{i}.example", author="a")
    release = services.release_create(name="R", studies=[STUDY])
    ids = services.release_prepare(release_id=release.kf_id)
    for tid in ids:
        services.task_mark_initialized(task_id=tid)
    services.release_start(release_id=release.kf_id)
    if acknowledged:
        services.tasks_acknowledge(task_ids=ids, action="start")
    return release.kf_id, ids
