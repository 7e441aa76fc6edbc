"""The shared compare-and-set transition helper, alone and under real concurrent processes."""

from __future__ import annotations

import pytest

from domain.common.errors import IllegalTransition, NotFound
from domain.common.models import TransitionLog
from domain.common.transitions import transition
from tests.support.processes import run_concurrently
from tests.support.testapp.models import Widget


def _start(pk: int) -> dict:
    """Called in child processes: try new → running once."""
    result = transition(
        Widget,
        pk=pk,
        target="running",
        allowed_from={"new"},
        updates=lambda w: {"touches": w.touches + 1},
    )
    return {"applied": result.applied, "source": result.source}


@pytest.mark.django_db
class TestTransition:
    def test_it_moves_state_and_logs_once(self):
        widget = Widget.objects.create()
        result = transition(Widget, pk=widget.pk, target="running", allowed_from={"new"})
        assert result.applied and result.source == "new"
        widget.refresh_from_db()
        assert widget.state == "running"
        log = TransitionLog.objects.get(aggregate="testapp.widget", aggregate_id=str(widget.pk))
        assert (log.source, log.target) == ("new", "running")

    def test_an_aggregate_with_its_own_event_rows_writes_no_log_row(self):
        widget = Widget.objects.create()
        result = transition(Widget, pk=widget.pk, target="running", allowed_from={"new"}, log=False)
        assert result.applied
        assert not TransitionLog.objects.exists()

    def test_a_repeat_is_a_no_op_without_a_log_row(self):
        widget = Widget.objects.create(state="running")
        result = transition(
            Widget, pk=widget.pk, target="running", allowed_from={"new"}, strict=True
        )
        assert not result.applied
        assert not TransitionLog.objects.exists()

    def test_an_illegal_move_raises_when_strict_and_is_ignored_otherwise(self):
        widget = Widget.objects.create(state="done")
        assert not transition(Widget, pk=widget.pk, target="running", allowed_from={"new"}).applied
        with pytest.raises(IllegalTransition) as err:
            transition(Widget, pk=widget.pk, target="running", allowed_from={"new"}, strict=True)
        assert "done" in err.value.message and "running" in err.value.message
        widget.refresh_from_db()
        assert widget.state == "done"

    def test_the_hook_runs_in_the_same_transaction(self):
        widget = Widget.objects.create()

        def explode(obj, source, target):
            raise RuntimeError("hook failed")

        with pytest.raises(RuntimeError):
            transition(
                Widget, pk=widget.pk, target="running", allowed_from={"new"}, on_applied=explode
            )
        widget.refresh_from_db()
        assert widget.state == "new"
        assert not TransitionLog.objects.exists()

    def test_an_unknown_row_is_not_found(self):
        with pytest.raises(NotFound):
            transition(Widget, pk=999999, target="running", allowed_from={"new"})

    def test_a_log_row_cannot_be_rewritten(self):
        widget = Widget.objects.create()
        transition(Widget, pk=widget.pk, target="running", allowed_from={"new"})
        log = TransitionLog.objects.get()
        log.target = "forged"
        with pytest.raises(ValueError):
            log.save()


@pytest.mark.django_db(transaction=True)
def test_eight_processes_racing_apply_the_transition_exactly_once(subprocess_env):
    widget = Widget.objects.create()
    results = run_concurrently(
        "tests.domain.test_transitions:_start", [{"pk": widget.pk}] * 8, subprocess_env
    )
    assert sum(r["applied"] for r in results) == 1
    widget.refresh_from_db()
    assert widget.state == "running" and widget.touches == 1
    assert TransitionLog.objects.filter(aggregate_id=str(widget.pk)).count() == 1


@pytest.mark.django_db
def test_the_log_refuses_rewrites_and_deletes():
    widget = Widget.objects.create()
    transition(Widget, pk=widget.pk, target="running", allowed_from={"new"})
    log = TransitionLog.objects.get()
    with pytest.raises(ValueError):
        log.save()
    with pytest.raises(ValueError):
        TransitionLog.objects.filter(pk=log.pk).update(target="done")
    with pytest.raises(ValueError):
        TransitionLog.objects.all().delete()
    assert TransitionLog.objects.get().target == "running"


@pytest.mark.django_db
def test_a_row_the_caller_locked_is_moved_without_reading_it_again():
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    widget = Widget.objects.create()
    with transaction.atomic():
        locked = Widget.objects.select_for_update().get(pk=widget.pk)
        with CaptureQueriesContext(connection) as queries:
            result = transition(
                Widget, pk=widget.pk, target="running", allowed_from={"new"}, locked=locked
            )
    assert result.applied
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["UPDATE", "INSERT"]  # no re-read, no savepoint
    widget.refresh_from_db()
    assert widget.state == "running"
