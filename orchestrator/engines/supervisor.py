"""One supervisor per execution on a host engine (local processes, docker).

The launch task forks it and returns at once, so no worker slot is held for the command's
whole duration (a command longer than the broker's visibility timeout would otherwise be
redelivered and run twice). The supervisor is a grandchild in its own session: it outlives the
worker process that started it, a worker restart, and a SIGKILL of the whole worker.

    launch task ─fork─► (child: setsid, fork, exit) ─► supervisor
        supervisor: engine.start (its db connection opening meanwhile) ─► mark RUNNING and read
        a stop asked while PENDING ─► loop { output → log chunks every
        LOG_FLUSH_INTERVAL; heartbeat (and stop check) every HEARTBEAT_INTERVAL; deadline }
        ─► wait ─► end the execution with its last lines (domain) ─► cleanup ─► exit

Everything it writes goes through domain/executions. A stop reaches it two ways: SIGUSR1 from
the stop task on its host (at once), and the stop flag its heartbeat reads (a lost message).
SIGTERM (or SIGINT) means the host is going away (`make run` stopping the service): it stops
the command and ends the execution `lost`, so its owner may retry it elsewhere.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

from domain.executions import conf
from domain.executions.launches import (
    LaunchOrder,
    execution_end,
    execution_heartbeat,
    execution_started,
    launch_refused_reason,
)
from domain.executions.logs import execution_log_append
from domain.executions.models import Outcome
from orchestrator.engines.base import Exit, HostEngine, LaunchRefused, Process

logger = logging.getLogger(__name__)

# Output waiting between the reader thread and the writer, in bytes: a command that prints
# faster than the database takes its lines is slowed by its own pipe, never buffered without
# bound (a line is at most EXECUTIONS_LOG_MAX_LINE_BYTES).
BUFFER_BYTES = 1024 * 1024
# After the command's main process exits, how long its output may keep flowing (a background
# child holding the pipe) before everything left of it is killed.
DRAIN_AFTER_EXIT = 1.0
# A database that does not answer (a restart, a failover) is retried this long before the
# supervisor gives up on the execution; meanwhile the command waits on its full pipe.
DATABASE_PATIENCE = 60.0
T = TypeVar("T")


def supervisor_spawn(*, order: LaunchOrder, engine: HostEngine, spec_builder) -> None:
    """Fork the supervisor of `order` and return once it is detached."""
    # The child must not share the parent's database connections. A PostgreSQL one stays the
    # worker's (the child disowns its copy: no reconnect on the worker's next task); others
    # (SQLite, whose file locks do not survive a fork well) are closed first.
    for conn in connections.all(initialized_only=True):
        if conn.vendor != "postgresql":
            conn.close()
    # The supervisor shares the worker's memory copy-on-write: a garbage collection walking
    # every inherited object would copy most of it page by page. Frozen, the collector leaves
    # them alone (the worker thaws its own at once).
    gc.freeze()
    pid = os.fork()
    if pid:
        gc.unfreeze()
        os.waitpid(pid, 0)
        return
    code = 0
    try:
        _disown_database_connections()
        os.setsid()
        if os.fork():
            os._exit(0)
        _become_supervisor()
        Supervisor(order=order, engine=engine, spec=spec_builder(order)).run()
    except BaseException:  # noqa: BLE001 (a forked child must never return into the worker)
        logger.exception("supervisor of execution %s failed", order.execution_id)
        code = 1
    finally:
        os._exit(code)


def _disown_database_connections() -> None:
    """In the forked child: drop the connections inherited from the worker without a word to
    the server, which would end the worker's session. The socket's descriptor is pointed at
    /dev/null first, so closing the driver's connection writes its goodbye there, and the
    descriptor's number cannot be reused under it by the supervisor's own connection."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for conn in connections.all(initialized_only=True):
            if conn.connection is None:
                continue
            with contextlib.suppress(Exception):
                os.dup2(devnull, conn.connection.fileno())
            # Django's own state (the transaction, savepoints) is reset with the close.
            with contextlib.suppress(Exception):
                conn.close()
            conn.connection = None
    finally:
        os.close(devnull)


def _become_supervisor() -> None:
    from orchestrator.celery import app

    # Forget the worker's broker connections without closing them under it.
    app._after_fork()
    # Until the supervisor's own handlers are in place, and for good for these two: no
    # terminal hangs up on a process in its own session, and a stray SIGQUIT must not kill it.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


@dataclass
class Ending:
    outcome: Outcome
    reason: str = ""


class LineBuffer:
    """Lines from the reader thread to the writer, bounded in bytes; the writer takes all that
    waits at once, so a fast command costs one lock round per batch, not per line."""

    def __init__(self, max_bytes: int = BUFFER_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lines: collections.deque[bytes] = collections.deque()
        # Which of them (indexes into `_lines`) came from stderr: kept apart, so output that
        # is all stdout (most, and all of the docker engine's) costs nothing more per line.
        self._stderr: list[int] = []
        self._bytes = 0
        self._closed = False
        self._cond = threading.Condition(threading.Lock())

    def put(self, line: bytes, from_stderr: bool = False) -> None:
        with self._cond:
            while self._bytes >= self.max_bytes:
                self._cond.wait()
            if from_stderr:
                self._stderr.append(len(self._lines))
            self._lines.append(line)
            self._bytes += len(line)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take(self, timeout: float) -> tuple[list[bytes], list[int], bool]:
        """What waits (after up to `timeout` seconds for something), which of it (indexes)
        came from stderr, and whether that was the end of the output."""
        with self._cond:
            if not self._lines and not self._closed:
                self._cond.wait(timeout)
            lines, stderr = list(self._lines), self._stderr
            self._lines.clear()
            self._stderr = []
            self._bytes = 0
            self._cond.notify_all()
            return lines, stderr, self._closed


class Supervisor:
    def __init__(self, *, order: LaunchOrder, engine: HostEngine, spec) -> None:
        self.order = order
        self.engine = engine
        self.spec = spec
        self.buffer = LineBuffer()
        self.wake = threading.Event()
        self.shutdown = threading.Event()
        self.next_line = 0
        # Decoded lines not written yet, and their size.
        self.pending: list[str] = []
        # Which of them (indexes into `pending`) came from stderr.
        self.pending_stderr: list[int] = []
        self.pending_bytes = 0
        self.ending: Ending | None = None
        self.leftovers_killed = False
        self.process: Process | None = None

    def run(self) -> None:
        signal.signal(signal.SIGUSR1, lambda *_: self.wake.set())
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.shutdown.set())
        execution_id = self.order.execution_id
        try:
            process = self._start_connected()
        except Exception as exc:  # noqa: BLE001 (whatever the engine raised, it did not start)
            if not isinstance(exc, LaunchRefused):
                logger.exception("engine could not start execution %s", execution_id)
            self._end(Outcome.LAUNCH_FAILED, None, launch_refused_reason(exc))
            return
        self.process = process
        try:
            ref = {**process.ref, "supervisor_pid": os.getpid()}
            started = self._db(execution_started, execution_id=execution_id, engine_ref=ref)
            if not started.running:
                self.ending = Ending(Outcome.STOPPED, "ended before it started")
                process.terminate(grace=0)
            elif started.stop_reason is not None:
                self._stop(process, Outcome.STOPPED, started.stop_reason)
            exit_ = self._supervise(process)
            self._finish(exit_)
        except Exception as exc:  # noqa: BLE001 (the execution must end, whatever failed here)
            logger.exception("supervisor of execution %s failed", execution_id)
            process.terminate(grace=0)
            self._end(Outcome.LOST, None, f"worker lost: its supervisor failed ({exc})"[:2000])
        finally:
            process.cleanup()

    def _start_connected(self) -> Process:
        """`engine.start` while another thread opens this process's database connection, so its
        set-up overlaps the command's start instead of following it. The command is started
        from this (main) thread, which lives as long as the supervisor: PR_SET_PDEATHSIG fires
        when the thread that forked the command ends. The connection is made for this thread
        and only opened by the other, then installed here. It is done only where this thread
        has no connection of its own yet (a forked supervisor's was disowned): one run in a
        process that has one (a test's, inside its transaction) keeps it. An owner's prepare
        step reads the database during the start: then the connection is simply opened first."""
        current = connections[DEFAULT_DB_ALIAS]
        if self.spec.prepare is not None or current.connection is not None:
            return self.engine.start(self.spec)
        conn = connections.create_connection(DEFAULT_DB_ALIAS)
        opening = threading.Thread(target=_open_quietly, args=(conn,), name="db-connect")
        opening.start()
        try:
            return self.engine.start(self.spec)
        finally:
            opening.join()
            connections[DEFAULT_DB_ALIAS] = conn

    def _supervise(self, process: Process) -> Exit:
        reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        reader.start()
        started = time.monotonic()
        deadline = started + self.order.deadline_seconds
        # A stop asked while it was PENDING was read with the start (execution_started).
        next_beat = started + conf.HEARTBEAT_INTERVAL
        flush_at = started + conf.LOG_FLUSH_INTERVAL
        exited_at: float | None = None
        output_open = True
        while output_open or not _finished(process):
            timeout = max(0.0, min(flush_at, next_beat) - time.monotonic())
            if output_open:
                lines, stderr, closed = self.buffer.take(timeout)
                self._collect(lines, stderr)
                output_open = not closed
            else:
                # The command closed its output but runs on: keep heartbeating and watching
                # for a stop and the deadline until it ends.
                self.wake.wait(timeout)
            now = time.monotonic()
            if now >= flush_at:
                self._flush()
                flush_at = now + conf.LOG_FLUSH_INTERVAL
            if now >= next_beat or self.wake.is_set():
                self.wake.clear()
                next_beat = now + conf.HEARTBEAT_INTERVAL
                self._check_stop(process)
            if self.ending is None and self.shutdown.is_set():
                self._stop(process, Outcome.LOST, "worker lost: its host is shutting down")
            if self.ending is None and now >= deadline:
                seconds = self.order.deadline_seconds
                reason = f"JobRun exceeded specified timeout of {seconds} seconds"
                self._stop(process, Outcome.TIMED_OUT, reason)
            if output_open:
                exited_at = self._kill_leftovers(process, exited_at, now)
        # The lines still pending are stored with the end (_end), in its transaction.
        reader.join()
        return process.wait()

    def _collect(self, lines: list[bytes], stderr: list[int]) -> None:
        stderr_at = iter(stderr)
        next_stderr = next(stderr_at, -1)
        for index, line in enumerate(lines):
            if index == next_stderr:
                self.pending_stderr.append(len(self.pending))
                next_stderr = next(stderr_at, -1)
            self.pending.append(line.decode("utf-8", "replace"))
            self.pending_bytes += len(line)
            if (
                len(self.pending) >= conf.LOG_CHUNK_LINES
                or self.pending_bytes >= conf.LOG_CHUNK_BYTES
            ):
                self._flush()

    def _read(self, process: Process) -> None:
        try:
            for line, from_stderr in process.tagged_lines():
                self.buffer.put(line, from_stderr)
        finally:
            self.buffer.close()

    def _flush(self) -> None:
        if self.pending:
            self.next_line = self._db(
                execution_log_append,
                execution_id=self.order.execution_id,
                first_line=self.next_line,
                lines=self.pending,
                stderr=self.pending_stderr,
            )
            self.pending, self.pending_stderr, self.pending_bytes = [], [], 0

    def _check_stop(self, process: Process) -> None:
        if self.ending is not None:
            return
        reason = self._db(execution_heartbeat, execution_id=self.order.execution_id)
        if reason is not None:
            self._stop(process, Outcome.STOPPED, reason)

    def _stop(self, process: Process, outcome: Outcome, reason: str) -> None:
        self.ending = Ending(outcome, reason)
        process.terminate(grace=conf.STOP_GRACE)

    def _kill_leftovers(
        self, process: Process, exited_at: float | None, now: float
    ) -> float | None:
        # The main process is gone but something it started keeps the output open.
        if getattr(process, "finished", None) is None or not _finished(process):
            return exited_at
        if exited_at is None:
            return now
        if now - exited_at > DRAIN_AFTER_EXIT and not self.leftovers_killed:
            self.leftovers_killed = True
            process.terminate(grace=0)
        return exited_at

    def _collect_outputs(self) -> None:
        """The owner's collect step (a job's outputs), while the scratch directory exists. A
        failure is the owner's to see (its outputs are missing): the end is recorded anyway."""
        workdir = getattr(self.process, "workdir", None)
        if self.spec.collect is None or workdir is None:
            return
        try:
            self.spec.collect(workdir)
        except Exception:  # noqa: BLE001 (the execution must still end)
            logger.exception("collect of execution %s failed", self.order.execution_id)

    def _finish(self, exit_: Exit) -> None:
        if self.ending is not None:
            outcome, reason = self.ending.outcome, self.ending.reason
        elif exit_.oom:
            outcome, reason = Outcome.OOM, exit_.reason or "OOMKilled"
        else:
            outcome, reason = Outcome.EXITED, exit_.reason
        if outcome == Outcome.EXITED and exit_.exit_code == 0:
            self._collect_outputs()
        self._end(outcome, exit_.exit_code, reason, exit_.usage)

    def _end(self, outcome: Outcome, exit_code: int | None, reason: str, usage=None) -> None:
        self._db(
            execution_end,
            execution_id=self.order.execution_id,
            outcome=outcome,
            exit_code=exit_code,
            reason=reason,
            usage=usage,
            log_lines=self.pending,
            log_stderr=self.pending_stderr,
            log_first_line=self.next_line,
        )
        self.pending, self.pending_stderr, self.pending_bytes = [], [], 0

    def _db(self, write: Callable[..., T], **kwargs) -> T:
        """`write(**kwargs)`, retried while the database is unreachable: each write is a
        compare-and-set or numbered, so one whose answer was lost is harmless to repeat."""
        give_up = time.monotonic() + DATABASE_PATIENCE
        pause = 0.2
        while True:
            try:
                return write(**kwargs)
            except (OperationalError, InterfaceError):
                if time.monotonic() > give_up:
                    raise
                logger.warning("database unreachable; retrying %s", write.__name__)
                connections.close_all()
                time.sleep(pause)
                pause = min(pause * 2, 5.0)


def _open_quietly(conn) -> None:
    # A database that does not answer now is left to the retries of the first write (_db).
    with contextlib.suppress(OperationalError, InterfaceError):
        conn.ensure_connection()


def _finished(process: Process) -> bool:
    """Whether the command's main process has exited; an engine that cannot tell (its output
    closing is the end) counts as finished."""
    finished = getattr(process, "finished", None)
    return finished is None or finished()
