"""orchestrator/logfilters.py: the frequent sweeps' INFO lines are left out, nothing else."""

from __future__ import annotations

import logging

import pytest
from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS

from orchestrator.logfilters import FrequentSweeps, frequent_sweeps


def _record(logger: str, level: int, msg: str, args) -> logging.LogRecord:
    return logging.LogRecord(logger, level, __file__, 1, msg, args, None)


def _beat_sends(task: str) -> logging.LogRecord:
    return _record("celery.beat", logging.INFO, "Scheduler: Sending due task %s (%s)", (task, task))


def _worker(template: str, task: str, level: int = logging.INFO) -> logging.LogRecord:
    args = {
        "id": "4f1c",
        "name": task,
        "return_value": 0,
        "runtime": 0.01,
        "args": "",
        "kwargs": "",
    }
    return _record("celery.app.trace", level, template, args)


@pytest.fixture
def root_at_info():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    yield
    root.setLevel(level)


def test_the_sweeps_beat_runs_every_few_seconds_are_frequent_and_daily_ones_are_not():
    sweeps = frequent_sweeps()
    assert {"jobs.schedule", "releases.poll_tasks", "executions.sweep_lost"} <= sweeps
    assert "releases.sync_studies" not in sweeps
    assert "tracker.monitoring_snapshot" not in sweeps  # every 120 s


def test_it_drops_beats_send_and_the_workers_received_and_succeeded_of_a_frequent_sweep(
    root_at_info,
):
    keep = FrequentSweeps().filter
    assert not keep(_beat_sends("jobs.schedule"))
    assert not keep(_worker(LOG_RECEIVED, "jobs.schedule"))
    assert not keep(_worker(LOG_SUCCESS, "jobs.schedule"))
    # What they say is still theirs to say: each record formats as Celery's own line.
    assert "jobs.schedule" in _worker(LOG_SUCCESS, "jobs.schedule").getMessage()


def test_it_keeps_other_tasks_a_sweeps_failures_and_everything_at_debug(root_at_info):
    keep = FrequentSweeps().filter
    assert keep(_beat_sends("releases.sync_studies"))
    assert keep(_worker(LOG_SUCCESS, "releases.send_batch"))
    assert keep(_worker(LOG_SUCCESS, "jobs.schedule", level=logging.ERROR))
    assert keep(_record("domain.jobs", logging.INFO, "job %s queued", (7,)))
    logging.getLogger().setLevel(logging.DEBUG)
    assert keep(_worker(LOG_SUCCESS, "jobs.schedule"))
