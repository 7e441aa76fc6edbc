"""Stand-in task services in their own processes, reporting what happens to them as events.

Each stand-in (tests.support.task_service.TaskServiceStandIn) runs in a process of its own, so
its CPU is its own group and not the bench's. Instead of the bench scanning every stand-in's
call and push logs, each stand-in puts one event on a shared multiprocessing queue per action
received (`start`, `publish`), per PATCH it sends (with its answer), and per state it turns in
its own store (poll mode). One thread in the bench blocks on that queue and wakes the waiters.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import requests


def _serve(index: int, mode: str, name: str, push: bool, conn, events) -> None:
    """The stand-in process: serve until told to stop."""
    from tests.support.task_service import TaskServiceStandIn

    class Reporting(TaskServiceStandIn):
        def _action(self, handler, body: dict) -> None:
            at = time.time()
            super()._action(handler, body)
            action = body.get("action")
            if action in ("start", "publish"):
                events.put(("action", index, action, body.get("release_id"), body["task_id"], at))

        def patch(self, task_id: str, body: dict, release_id: str = "") -> requests.Response:
            sent = time.time()
            resp = super().patch(task_id, body, release_id)
            events.put(
                ("patch", index, body.get("state"), release_id, task_id, sent, time.time())
                + (resp.status_code,)
            )
            return resp

        def set_state(self, task_id: str, state: str, progress: int | None = None) -> None:
            super().set_state(task_id, state, progress)
            if state in ("staged", "published"):
                events.put(("turned", index, state, "", task_id, time.time()))

    svc = Reporting(
        mode=mode, name=name, push_actions={"publish"} if push else None, patch_timeout=600
    )
    conn.send(svc.url)
    while True:
        msg = conn.recv()
        if msg[0] == "configure":
            svc.coordinator_url, svc.token = msg[1], msg[2]
        elif msg[0] == "stop":
            svc.stop()
            conn.send("stopped")
            return


class Remote:
    """The bench's handle on one stand-in process."""

    def __init__(self, ctx, index: int, mode: str, name: str, push: bool, events) -> None:
        self.index, self.name, self.token, self.coordinator_url = index, name, "", ""
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(index, mode, name, push, child, events), daemon=True
        )
        self.process.start()
        self.url = self.conn.recv()

    def configure(self, coordinator_url: str, token: str) -> None:
        self.coordinator_url, self.token = coordinator_url, token
        self.conn.send(("configure", coordinator_url, token))

    def patch(self, task_id: str, body: dict) -> requests.Response:
        """A report sent by the bench on the service's behalf (manual mode)."""
        return requests.patch(
            f"{self.coordinator_url}/tasks/{task_id}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=600,
        )

    def ask_stop(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(("stop",))
            except OSError:
                pass

    def stop(self) -> None:
        """After `ask_stop()`: wait for the stand-in to close its socket, then for the process."""
        if self.process.is_alive() and self.conn.poll(10):
            try:
                self.conn.recv()
            except (EOFError, OSError):
                pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class Fleet:
    """Stand-in processes and what they reported, updated by one thread blocked on the queue."""

    def __init__(self) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.events = self.ctx.Queue()
        self.remotes: list[Remote] = []
        self.cond = threading.Condition()
        # (action, release_id) -> [(service index, task_id, at)]
        self.actions: dict[tuple[str, str], list[tuple[int, str, float]]] = defaultdict(list)
        self.action_count: dict[str, int] = defaultdict(int)
        # (state, release_id) -> [(service index, task_id, sent, answered, status)]
        self.patches: dict[tuple[str, str], list[tuple]] = defaultdict(list)
        # (service index, task_id, state) -> when it turned in the service's own store
        self.turned: dict[tuple[int, str, str], float] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def spawn(self, mode: str, name: str, push: bool = False) -> Remote:
        remote = Remote(self.ctx, len(self.remotes), mode, name, push, self.events)
        self.remotes.append(remote)
        return remote

    def pids(self) -> list[int]:
        return [r.process.pid for r in self.remotes if r.process.pid]

    def _read(self) -> None:
        while True:
            event: Any = self.events.get()
            if event is None:
                return
            kind, index, what, release_id, task_id, at, *rest = event
            with self.cond:
                if kind == "action":
                    self.actions[(what, release_id)].append((index, task_id, at))
                    self.action_count[what] += 1
                elif kind == "patch":
                    self.patches[(what, release_id)].append((index, task_id, at, *rest))
                else:
                    self.turned[(index, task_id, what)] = at
                self.cond.notify_all()

    def wait(self, predicate: Callable[[], Any], timeout: float, message: str = "") -> Any:
        """Block until `predicate()` (called under the lock) is truthy; woken by each event."""
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
        if not result:
            raise TimeoutError(f"timed out waiting for {message or predicate}")
        return result

    def stop(self) -> None:
        for remote in self.remotes:
            remote.ask_stop()
        for remote in self.remotes:
            remote.stop()
        self.events.put(None)
        self._reader.join(5)
