"""A host never runs more than its slots, however many executions wait; all of them run."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from domain.executions.models import ACTIVE_STATES, Execution, Outcome
from tests.support.executions import wait_ended

pytestmark = pytest.mark.django_db(transaction=True)

SLOTS = 4
RUNS = 50


@pytest.fixture
def four_slot_host(shared_local_host):
    assert shared_local_host.env["EXECUTIONS_SLOTS"] == str(SLOTS)
    shared_local_host.wait_registered()
    yield shared_local_host
    shared_local_host.settle()


@pytest.fixture
def shared_dir():
    # The commands run as nobody: a directory they may all append to.
    path = Path(tempfile.mkdtemp(prefix="regatta-slots-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _most_at_once(journal: list[str]) -> int:
    running = most = 0
    for line in journal:
        running += 1 if line.startswith("start") else -1
        most = max(most, running)
    return most


def test_fifty_runs_on_four_slots_never_exceed_four_at_once(four_slot_host, shared_dir):
    journal = shared_dir / "journal"
    executions = [
        four_slot_host.create(f"echo start {i} >> {journal}; sleep 0.2; echo end {i} >> {journal}")
        for i in range(RUNS)
    ]
    ids = [e.id for e in executions]

    # Meanwhile, the database never shows more than four holding a slot on the host.
    active_seen = []
    while Execution.objects.filter(pk__in=ids, state__in=[*ACTIVE_STATES, "QUEUED"]).exists():
        active_seen.append(
            Execution.objects.filter(host=four_slot_host.name, state__in=ACTIVE_STATES).count()
        )
        time.sleep(0.01)
    done = [wait_ended(execution_id, timeout=60) for execution_id in ids]

    assert [(d.outcome, d.exit_code) for d in done] == [(Outcome.EXITED, 0)] * RUNS
    lines = journal.read_text().splitlines()
    assert sorted(lines) == sorted(
        [f"start {i}" for i in range(RUNS)] + [f"end {i}" for i in range(RUNS)]
    )
    # Each command wrote its start when it began and its end just before it exited: replaying
    # the journal in order gives how many ran at once.
    assert _most_at_once(lines) <= SLOTS
    assert max(active_seen) <= SLOTS
    # Queue order held too: the first four started before any of the last four.
    starts = [int(line.split()[1]) for line in lines if line.startswith("start")]
    assert max(starts.index(i) for i in range(SLOTS)) < min(
        starts.index(i) for i in range(RUNS - SLOTS, RUNS)
    )
