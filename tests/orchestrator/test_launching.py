"""A dispatch that gives a slot to the host whose worker runs it launches there at once (no
launch message); anywhere else the launch goes to the host's queue. Either way it starts once."""

from __future__ import annotations

import pytest

from domain.executions import conf
from domain.executions.dispatch import execution_dispatch
from domain.executions.models import Execution, Host
from domain.executions.services import execution_create
from orchestrator.engines import hosting, launching
from orchestrator.lifecycles import executions as lifecycle
from tests.support.executions import OWNER, clusters_known, unique_name

# The tests dispatch themselves: a worker of the session must not dispatch their executions first.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_dispatch_messages"),
]


@pytest.fixture
def box(monkeypatch) -> str:
    """Host "box", whose supervisors are recorded instead of forked, and the messages sent."""
    name = unique_name("box")
    monkeypatch.setenv("EXECUTIONS_HOST", name)
    Host.objects.create(name=name, queue=conf.host_queue(name), clusters=["near"], slots=2)
    return name


@pytest.fixture
def spawned(monkeypatch) -> list[str]:
    started: list[str] = []
    monkeypatch.setattr(
        launching, "supervisor_spawn", lambda *, order, **_: started.append(order.execution_id)
    )
    return started


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, str]]:
    messages: list[tuple[str, str]] = []
    monkeypatch.setattr(
        lifecycle,
        "_to_host",
        lambda signature, queue: messages.append((signature.args[0], queue)),
    )
    return messages


def _queued() -> Execution:
    return execution_create(owner_type=OWNER, owner_id="o", cluster="near", command="true", env=[])


def test_it_launches_at_once_on_the_host_that_dispatches(box, spawned, sent, monkeypatch):
    monkeypatch.setitem(hosting._serving, "on", True)
    with clusters_known("near"):
        execution = _queued()
        assert execution_dispatch(cluster="near") == 1

    assert spawned == [execution.id]
    assert sent == []
    # A launch message that arrives as well (a reconciler's re-send) starts nothing more.
    assert launching.launch_here(execution.id) == "already launched or no longer pending"
    assert spawned == [execution.id]


def test_it_sends_the_launch_to_the_host_from_anywhere_else(box, spawned, sent, monkeypatch):
    monkeypatch.setitem(hosting._serving, "on", False)
    with clusters_known("near"):
        execution = _queued()
        assert execution_dispatch(cluster="near") == 1

    assert spawned == []
    assert sent == [(execution.id, conf.host_queue(box))]


def test_a_launch_that_fails_here_is_sent_to_the_queue(box, sent, monkeypatch):
    monkeypatch.setitem(hosting._serving, "on", True)

    def broken(**_):
        raise OSError("no fork today")

    monkeypatch.setattr(launching, "supervisor_spawn", broken)
    with clusters_known("near"):
        execution = _queued()
        execution_dispatch(cluster="near")

    assert sent == [(execution.id, conf.host_queue(box))]
