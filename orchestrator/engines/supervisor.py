"""One supervisor per execution on a host engine (local processes, docker).

The launch task forks it and returns at once, so no worker slot is held for the command's
whole duration (a command longer than the broker's visibility timeout would otherwise be
redelivered and run twice). The supervisor is a grandchild in its own session: it outlives the
worker process that started it, a worker restart, and a SIGKILL of the whole worker.

    launch task ─fork─► (child: setsid, fork, exit) ─► supervisor
        supervisor: engine.start ─► mark RUNNING ─► loop { output → log chunks every
        LOG_FLUSH_INTERVAL; heartbeat (and stop check) every HEARTBEAT_INTERVAL; deadline }
        ─► wait ─► last chunk ─► end the execution (domain) ─► cleanup ─► exit

Everything it writes goes through domain/executions. A stop reaches it two ways: SIGUSR1 from
the stop task on its host (at once), and the stop flag its heartbeat reads (a lost message).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass

from django.db import connections

from domain.executions import conf
from domain.executions.launches import (
    LaunchOrder,
    execution_end,
    execution_heartbeat,
    execution_mark_running,
    launch_refused_reason,
)
from domain.executions.logs import execution_log_append
from domain.executions.models import Outcome
from orchestrator.engines.base import EngineUnavailable, Exit, HostEngine, LaunchRefused, Process

logger = logging.getLogger(__name__)

EOF_MARK = None
# Lines waiting between the reader thread and the writer: a command that prints faster than
# the database takes its lines is slowed by its own pipe, never buffered without bound.
QUEUE_LINES = 4096
# After the command's main process exits, how long its output may keep flowing (a background
# child holding the pipe) before everything left of it is killed.
DRAIN_AFTER_EXIT = 1.0


def supervisor_spawn(*, order: LaunchOrder, engine: HostEngine, spec_builder) -> None:
    """Fork the supervisor of `order` and return once it is detached."""
    # The child must not share the parent's database socket: close ours first (the worker
    # reconnects on its next query) and let the supervisor open its own.
    connections.close_all()
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    code = 0
    try:
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


def _become_supervisor() -> None:
    from orchestrator.celery import app

    # Forget the worker's broker connections without closing them under it.
    app._after_fork()
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


class Supervisor:
    def __init__(self, *, order: LaunchOrder, engine: HostEngine, spec) -> None:
        self.order = order
        self.engine = engine
        self.spec = spec
        self.lines: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_LINES)
        self.wake = threading.Event()
        self.next_line = 0
        self.ending: Ending | None = None
        self.leftovers_killed = False
        self.process: Process | None = None

    def run(self) -> None:
        signal.signal(signal.SIGUSR1, lambda *_: self.wake.set())
        execution_id = self.order.execution_id
        try:
            process = self.engine.start(self.spec)
        except (LaunchRefused, EngineUnavailable) as exc:
            execution_end(
                execution_id=execution_id,
                outcome=Outcome.LAUNCH_FAILED,
                exit_code=None,
                reason=launch_refused_reason(exc),
            )
            return
        self.process = process
        try:
            ref = {**process.ref, "supervisor_pid": os.getpid()}
            if not execution_mark_running(execution_id=execution_id, engine_ref=ref):
                self.ending = Ending(Outcome.STOPPED, "ended before it started")
                process.terminate(grace=0)
            exit_ = self._supervise(process)
            self._finish(exit_)
        finally:
            process.cleanup()

    def _supervise(self, process: Process) -> Exit:
        reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        reader.start()
        started = time.monotonic()
        deadline = started + self.order.deadline_seconds
        next_beat = started + conf.HEARTBEAT_INTERVAL
        buffer: list[str] = []
        size = 0
        flush_at = started + conf.LOG_FLUSH_INTERVAL
        exited_at: float | None = None
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, min(flush_at, next_beat) - time.monotonic()))
            except queue.Empty:
                line = b""
            if line is EOF_MARK:
                break
            if line:
                text = line.decode("utf-8", "replace")
                buffer.append(text)
                size += len(text)
            now = time.monotonic()
            if buffer and (
                now >= flush_at
                or len(buffer) >= conf.LOG_CHUNK_LINES
                or size >= conf.LOG_CHUNK_BYTES
            ):
                self._flush(buffer)
                buffer, size = [], 0
            if now >= flush_at:
                flush_at = now + conf.LOG_FLUSH_INTERVAL
            if now >= next_beat or self.wake.is_set():
                self.wake.clear()
                next_beat = now + conf.HEARTBEAT_INTERVAL
                self._check_stop(process)
            if self.ending is None and now >= deadline:
                seconds = self.order.deadline_seconds
                self.ending = Ending(
                    Outcome.TIMED_OUT, f"JobRun exceeded specified timeout of {seconds} seconds"
                )
                process.terminate(grace=conf.STOP_GRACE)
            exited_at = self._kill_leftovers(process, exited_at, now)
        self._flush(buffer)
        reader.join()
        return process.wait()

    def _read(self, process: Process) -> None:
        try:
            for line in process.lines():
                self.lines.put(line)
        finally:
            self.lines.put(EOF_MARK)

    def _flush(self, buffer: list[str]) -> None:
        if buffer:
            self.next_line = execution_log_append(
                execution_id=self.order.execution_id, first_line=self.next_line, lines=buffer
            )

    def _check_stop(self, process: Process) -> None:
        if self.ending is not None:
            return
        reason = execution_heartbeat(execution_id=self.order.execution_id)
        if reason is not None:
            self.ending = Ending(Outcome.STOPPED, reason)
            process.terminate(grace=conf.STOP_GRACE)

    def _kill_leftovers(
        self, process: Process, exited_at: float | None, now: float
    ) -> float | None:
        # The main process is gone but something it started keeps the output open.
        finished = getattr(process, "finished", None)
        if finished is None or not finished():
            return exited_at
        if exited_at is None:
            return now
        if now - exited_at > DRAIN_AFTER_EXIT and not self.leftovers_killed:
            self.leftovers_killed = True
            process.terminate(grace=0)
        return exited_at

    def _collect(self) -> None:
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
            self._collect()
        execution_end(
            execution_id=self.order.execution_id,
            outcome=outcome,
            exit_code=exit_.exit_code,
            reason=reason,
            usage=exit_.usage,
        )
