"""Fixtures of the conformance tests: a live gunicorn per test file, a task service stand-in."""

from __future__ import annotations

import pytest

from tests.support.processes import start_web
from tests.support.task_service import TaskServiceStandIn


@pytest.fixture(scope="module")
def task_service():
    """A real task service on 127.0.0.1, for registrations the fuzzer sends its way."""
    host = TaskServiceStandIn(mode="manual", name="fuzzed")
    yield host
    host.stop()


@pytest.fixture(scope="module")
def web(subprocess_env, log_dir):
    proc = start_web(subprocess_env, log_dir, workers=2)
    yield proc.info["url"]
    proc.stop()


@pytest.fixture(scope="module")
def flotilla_web(subprocess_env, log_dir):
    """The web server the Flotilla family is fuzzed on: its runs go to a cluster no worker
    serves, so a worker of the same session never runs a command the fuzzer made up."""
    env = {
        **subprocess_env,
        "EXECUTIONS_CLUSTERS": '{"fuzzed": {"engine": "local"}}',
        "RUNS_DEFAULT_CLUSTER": "fuzzed",
    }
    proc = start_web(env, log_dir, workers=2)
    yield proc.info["url"]
    proc.stop()
