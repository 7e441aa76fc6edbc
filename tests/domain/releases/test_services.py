"""Domain services against PostgreSQL: transitions, events, cancel, and racing reports from
separate processes."""

from __future__ import annotations

import pytest
from django.utils import timezone

from domain.common.errors import IllegalTransition
from domain.common.models import TransitionLog
from domain.releases import services, task_services
from domain.releases.models import Event, Release, Study, Task
from domain.releases.steps import CancelRelease
from tests.domain.releases.releases_support import STUDY, running_release
from tests.support.processes import run_concurrently


def report(task_id: str, state: str) -> str:
    """Runs in a child process (run_concurrently)."""
    return services.task_report(task_id=task_id, state=state).state


@pytest.mark.django_db
def test_no_services_goes_straight_to_staged_with_three_events():
    Study.objects.create(kf_id=STUDY)
    release = services.release_create(name="R", studies=[STUDY])
    assert services.release_prepare(release_id=release.kf_id) == []
    assert Release.objects.get(pk=release.kf_id).state == "staged"
    assert Event.objects.filter(release_id=release.kf_id).count() == 3


@pytest.mark.django_db
def test_disabled_services_are_ignored():
    Study.objects.create(kf_id=STUDY)
    task_services.task_service_create(name="off", url="http://off", author="a", enabled=False)
    release = services.release_create(name="R", studies=[STUDY])
    assert services.release_prepare(release_id=release.kf_id) == []
    assert Release.objects.get(pk=release.kf_id).state == "staged"


@pytest.mark.django_db
def test_start_waits_for_every_task_to_be_initialized():
    Study.objects.create(kf_id=STUDY)
    task_services.task_service_create(name="a", url="http://a", author="a")
    task_services.task_service_create(name="b", url="http://b", author="a")
    release = services.release_create(name="R", studies=[STUDY])
    first, second = services.release_prepare(release_id=release.kf_id)
    services.task_mark_initialized(task_id=first)
    assert services.release_start(release_id=release.kf_id) == []
    services.task_mark_initialized(task_id=second)
    assert sorted(services.release_start(release_id=release.kf_id)) == sorted([first, second])
    # A redelivered callback is a no-op.
    assert services.release_start(release_id=release.kf_id) == []
    assert set(Task.objects.values_list("pending_action", flat=True)) == {"start"}


@pytest.mark.django_db
def test_illegal_report_raises_and_poll_ignores_it():
    _, (tid, _) = running_release()
    with pytest.raises(IllegalTransition):
        services.task_report(task_id=tid, state="published")
    assert services.task_report(task_id=tid, state="published", strict=False).state == "running"


@pytest.mark.django_db
def test_failure_fails_the_release_and_the_cancel_step_cancels_the_rest(
    django_capture_on_commit_callbacks,
):
    kf_id, (a, b) = running_release()
    with django_capture_on_commit_callbacks() as scheduled:
        services.task_report(task_id=a, state="failed")
    assert Release.objects.get(pk=kf_id).state == "canceling"
    # The cancel step carries what to cancel, collected under the release lock.
    assert [c.args[0] for c in scheduled] == [CancelRelease(release_id=kf_id, task_ids=(b,))]
    services.release_cancel_finish(release_id=kf_id)
    assert Release.objects.get(pk=kf_id).state == "failed"
    assert dict(Task.objects.values_list("kf_id", "state")) == {a: "failed", b: "canceled"}
    # A late report of a finished task is refused, not applied.
    with pytest.raises(IllegalTransition):
        services.task_report(task_id=b, state="staged")


@pytest.mark.django_db
def test_a_failure_during_a_user_cancel_still_ends_failed():
    kf_id, (a, _) = running_release()
    services.release_cancel(release_id=kf_id)
    services.task_fail(task_id=a, message="request to start task failed: boom")
    services.release_cancel_finish(release_id=kf_id)
    assert Release.objects.get(pk=kf_id).state == "failed"


@pytest.mark.django_db(transaction=True)
def test_racing_last_reports_from_separate_processes_stage_once(subprocess_env, monkeypatch):
    # Committed rows here would otherwise reach a session worker and call made-up hosts.
    monkeypatch.setattr(services, "step_after_commit", lambda step: None)
    releases = [running_release() for _ in range(3)]
    calls = [{"task_id": tid, "state": "staged"} for _, ids in releases for tid in ids]
    results = run_concurrently("tests.domain.releases.test_services:report", calls, subprocess_env)
    assert results == ["staged"] * len(calls)
    for kf_id, _ in releases:
        assert Release.objects.get(pk=kf_id).state == "staged"
        assert TransitionLog.objects.filter(aggregate_id=kf_id, target="staged").count() == 1
        assert (
            Event.objects.filter(
                release_id=kf_id, message__startswith="release", message__endswith="to staged"
            ).count()
            == 1
        )


@pytest.mark.django_db
def test_a_poll_answer_sent_before_a_push_does_not_roll_its_progress_back():
    _, (task_id, _) = running_release()
    asked_at = timezone.now()
    services.task_report(task_id=task_id, progress="50%")
    services.task_report(task_id=task_id, progress=0, strict=False, asked_at=asked_at)
    assert Task.objects.get(pk=task_id).progress == 50


@pytest.mark.django_db
def test_a_poll_answer_sent_after_the_last_push_updates_progress():
    _, (task_id, _) = running_release()
    services.task_report(task_id=task_id, progress=50)
    services.task_report(task_id=task_id, progress=70, strict=False, asked_at=timezone.now())
    assert Task.objects.get(pk=task_id).progress == 70


@pytest.mark.django_db
def test_a_stale_poll_still_applies_its_state():
    _, (task_id,) = running_release(n_services=1)
    asked_at = timezone.now()
    services.task_report(task_id=task_id, progress=40)
    services.task_report(
        task_id=task_id, state="staged", progress=10, strict=False, asked_at=asked_at
    )
    task = Task.objects.get(pk=task_id)
    assert (task.state, task.progress) == ("staged", 40)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("dead", "outcome"), [("failed", "failed"), ("rejected", "failed"), ("canceled", "canceled")]
)
def test_a_dead_task_found_by_the_release_check_ends_the_release_by_its_kind(dead, outcome):
    # docs/releases.md QUIRK list: spec §4.5's check always canceled; here a failure fails.
    kf_id, (task_id, other_id) = running_release()
    # The task went down but the step that should have followed was lost.
    Task.objects.filter(pk=task_id).update(state=dead)
    services.release_check_tasks(release_id=kf_id)
    release = Release.objects.get(pk=kf_id)
    assert (release.state, release.cancel_outcome) == ("canceling", outcome)
    assert services.release_cancel_finish(release_id=kf_id).state == outcome
    assert dict(Task.objects.filter(release_id=kf_id).values_list("kf_id", "state")) == {
        task_id: dead,
        other_id: "canceled",
    }
