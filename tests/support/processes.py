"""Real processes for tests: Celery workers, the production web server, concurrent callers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import redis
import requests

from tests.support.redis_dbs import redis_db_moved

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
QUEUES = ("default", "outbound", "executions", "jobs")
# How long a process of ours may take to come up. A cold start imports Django, Celery and every
# task module; on a 2-core CI machine that is also running 32 drain clients and a fuzzer, that
# took over 30 s for a beat (a timeout that failed a CI run, not a beat that never started).
STARTUP_TIMEOUT = 120.0


def wait_until(
    check: Callable[[], object],
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str = "condition",
) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def suite_redis_url(offset: int) -> str:
    """The suite's Redis URL with its db moved up by `offset` (1: isolated stacks, 2: health
    checks; tests/support/env_defaults.py gives each xdist worker three dbs)."""
    return redis_db_moved(os.environ["REDIS_URL"], offset)


def database_url_for(settings_dict: dict) -> str:
    """The DATABASE_URL of the database Django is using now (the test database under pytest)."""
    base = urlparse(os.environ["DATABASE_URL"])
    return urlunparse(base._replace(path="/" + settings_dict["NAME"]))


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    info: dict = field(default_factory=dict)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        try:  # children the leader left behind
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def control_app(env: dict[str, str]):
    """A Celery client bound to the broker in `env` (which may differ from this process's)."""
    from celery import Celery

    from orchestrator.config import to_celery_url

    return Celery("regatta-test-control", broker=to_celery_url(env["REDIS_URL"]))


# Every process the suite started, so a failing test's report can show what they logged.
SPAWNED: list[Proc] = []


def logs_written_since(moment: float, *, most: int = 4, chars: int = 4000) -> list[tuple[str, str]]:
    """(name, tail) of the logs of the suite's processes written since `moment`, latest first."""
    written = [
        (proc.log_path.stat().st_mtime, proc)
        for proc in SPAWNED
        if proc.log_path.exists() and proc.log_path.stat().st_mtime >= moment
    ]
    written.sort(key=lambda pair: pair[0], reverse=True)
    return [(proc.name, proc.log()[-chars:]) for _, proc in written[:most]]


def _spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Proc:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    out = open(log_path, "wb")  # noqa: SIM115 (the child owns it for its lifetime)
    popen = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    proc = Proc(name=name, popen=popen, log_path=log_path)
    SPAWNED.append(proc)
    return proc


def start_worker(
    env: dict[str, str],
    log_dir: Path,
    *,
    # Not `jobs`: the session's workers must not schedule the jobs of a test's own jobs cluster.
    queues: str = "default,outbound,executions",
    concurrency: int = 2,
    name: str | None = None,
    pool: str = "prefork",
    wrapper: tuple[str, ...] = (),
) -> Proc:
    """A real `celery worker` process (run through `wrapper`, e.g. `unshare …`, when given);
    returns once it answers a ping on its own broker."""
    app = control_app(env)
    node = f"{name or 'test'}-{uuid.uuid4().hex[:6]}@%h"
    argv = [
        *wrapper,
        str(BIN / "celery"),
        "-A",
        "orchestrator",
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "-n",
        node,
        "-P",
        pool,
        "--loglevel",
        "INFO",
        "--without-mingle",
        "--without-gossip",
    ]
    proc = _spawn(node.split("@")[0], argv, env, log_dir)
    hostname = node.replace("%h", socket.gethostname())
    proc.info["hostname"] = hostname

    def answered() -> bool:
        if not proc.alive():
            raise AssertionError(f"worker exited early:\n{proc.log()[-3000:]}")
        return bool(app.control.ping(destination=[hostname], timeout=0.5))

    message = f"worker {hostname} to answer a ping"
    wait_until(answered, timeout=STARTUP_TIMEOUT, interval=0.2, message=message)
    return proc


def start_beat(env: dict[str, str], log_dir: Path, data_dir: Path, *, name: str = "beat") -> Proc:
    """A real `celery beat` process keeping its schedule state in `data_dir`; returns once it
    started. Give it REGATTA_BEAT_ONLY in `env` so it runs only the sweeps the test observes."""
    env = {**env, "REGATTA_DATA_DIR": str(data_dir)}
    argv = [str(BIN / "celery"), "-A", "orchestrator", "beat", "--loglevel", "INFO"]
    proc = _spawn(name, argv, env, log_dir)
    wait_until(
        lambda: "beat: Starting" in proc.log() or not proc.alive(),
        timeout=STARTUP_TIMEOUT,
        message="beat to start",
    )
    assert proc.alive(), proc.log()[-2000:]
    return proc


def stop_beat(proc: Proc, broker: redis.Redis) -> None:
    """Stop a beat, then wait until the workers have finished every message it sent: a sweep it
    enqueued just before stopping must not reach the next test's rows."""
    proc.stop()

    def drained() -> bool:
        # kombu keeps a queue's messages in a list named after it (one more per priority step)
        # and the ones a worker holds in the `unacked` hash until they are done.
        lists = [key for q in QUEUES for key in (q, *broker.scan_iter(match=q + "\x06\x16*"))]
        return not sum(broker.llen(key) for key in lists) and not broker.hlen("unacked")

    wait_until(drained, timeout=60, interval=0.1, message="the beat's last messages to be done")


def start_web(
    env: dict[str, str], log_dir: Path, *, workers: int = 2, port: int | None = None
) -> Proc:
    """The production web server (gunicorn) on loopback; returns once it answers HTTP."""
    port = port or free_port()
    argv = [
        str(BIN / "gunicorn"),
        "--config",
        str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    proc = _spawn(f"web-{port}", argv, env, log_dir)
    proc.info["url"] = f"http://127.0.0.1:{port}"

    def answered() -> bool:
        if not proc.alive():
            raise AssertionError(f"web server exited early:\n{proc.log()[-3000:]}")
        try:
            requests.get(proc.info["url"] + "/_/", timeout=1)
            return True
        except requests.RequestException:
            return False

    wait_until(answered, timeout=STARTUP_TIMEOUT, interval=0.2, message="web server to answer")
    return proc


def run_concurrently(
    target: str, calls: list[dict], env: dict[str, str], timeout: float = 120.0
) -> list:
    """Run `module:function(**kwargs)` once per kwargs in `calls`, each in its own Python process,
    released together at one instant. Returns each call's JSON result (or raises on failure)."""
    start_at = time.time() + 1.5 + 0.05 * len(calls)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.call", target, json.dumps(kw), str(start_at)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for kw in calls
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"{target} failed in a child process:\n{err.decode()[-3000:]}")
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


@contextmanager
def processes(*procs: Proc):
    try:
        yield procs
    finally:
        for p in procs:
            p.stop()
