"""A batch's time limit stays below the broker's visibility timeout, or nothing starts (issue 7).

A batch that could run past `CELERY_VISIBILITY_TIMEOUT` would be handed by Redis to a second
worker while the first still runs it: duplicate start/publish calls to every task service.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.support.processes import BIN, ROOT, free_port

REFUSAL = "reaches CELERY_VISIBILITY_TIMEOUT"
TOO_SLOW = [
    # 7 rounds of 100 s calls: far past the default 600 s (the old limit ignored it too).
    {"OUTBOUND_TIMEOUT": "100"},
    # The suite's 1 s calls, but a broker that redelivers after 60 s.
    {"CELERY_VISIBILITY_TIMEOUT": "60"},
    # 60 s calls fit (480 s), but the fifth retry's 160 s countdown is held unacknowledged too.
    {
        "OUTBOUND_TIMEOUT": "60",
        "OUTBOUND_RETRIES": "5",
        "RELEASES_RETRY_BACKOFF": "10",
        "RELEASES_RETRY_BACKOFF_MAX": "600",
    },
]


def _run_until_exit(argv: list[str], extra_env: dict[str, str]) -> tuple[int, str]:
    """Start a real process; its exit code and output. One that keeps running fails the test."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **extra_env)
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{argv[0]} started although it should have refused:\n{out[-2000:]}")
    return proc.returncode, out


@pytest.mark.parametrize("extra_env", TOO_SLOW)
def test_it_refuses_to_start_a_worker_whose_batch_could_outlive_the_visibility_timeout(
    extra_env,
):
    argv = [str(BIN / "celery"), "-A", "orchestrator", "worker", "-Q", "outbound", "-c", "1"]
    code, out = _run_until_exit([*argv, "--without-mingle", "--without-gossip"], extra_env)
    assert code != 0
    assert REFUSAL in out
    for name in extra_env:
        assert name in out  # the message names the settings it read


def test_it_refuses_to_start_the_web_server_with_such_a_configuration():
    port = free_port()
    argv = [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py")]
    code, out = _run_until_exit([*argv, "--bind", f"127.0.0.1:{port}"], {"OUTBOUND_TIMEOUT": "100"})
    assert code != 0
    assert REFUSAL in out


def test_it_loads_the_celery_configuration_with_the_limit_just_below_the_visibility_timeout():
    # The suite's 1 s calls: a time limit of 7 rounds × 1 s + 60 s, a retry countdown of 0.2 s.
    visibility = 7 * 1 + 60 + 1
    _, out = _run_until_exit(
        [str(BIN / "celery"), "-A", "orchestrator", "inspect", "ping", "--timeout", "0.5"],
        {"CELERY_VISIBILITY_TIMEOUT": str(visibility)},
    )
    # Whether or not a worker answers the ping, the configuration loaded: no refusal.
    assert REFUSAL not in out
