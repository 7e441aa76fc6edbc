"""A stand-in task service: a real HTTP server on 127.0.0.1 speaking the task-service protocol.

Modes:
- push: after `start` it PATCHes `staged` to the coordinator, after `publish` it PATCHes
  `published` (like kf-task-reference);
- poll: it only changes its own store; `get_status` answers the state (like release-reports);
- manual: the test drives every report itself.
Injectable failures per action (`fail[action]`): "500", "400", "hang" (sleep past the client's
timeout), "state:<name>" (answer 200 with a wrong state), "refuse" (close the socket without an
answer), "down" (close the socket and stop: the service is gone from this call on). `stop()`
closes the listening socket, so every later call gets connection refused.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

NEXT_STATE = {
    "initialize": "pending",
    "start": "running",
    "publish": "publishing",
    "cancel": "canceled",
}


@dataclass
class Call:
    method: str
    path: str
    body: dict
    headers: dict[str, str]
    at: float = 0.0


@dataclass
class TaskServiceStandIn:
    mode: str = "push"
    name: str = "stand-in"
    coordinator_url: str = ""
    token: str = ""
    push_delay: float = 0.0
    hang_seconds: float = 3.0
    fail: dict[str, str] = field(default_factory=dict)
    # How many times a failure fires before the service behaves (None: always).
    fail_times: dict[str, int | None] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=dict)
    push_results: list[int] = field(default_factory=list)
    # Which actions are followed by a PATCH (None: `start` and `publish` in push mode).
    push_actions: set[str] | None = None
    patch_timeout: float = 30.0
    # (task_id, release_id, state, status code, sent at, answered at) of every PATCH sent.
    push_log: list[tuple] = field(default_factory=list)
    # When each task turned `staged`/`published` in this service's own store.
    turned_at: dict[tuple[str, str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._fired: dict[str, int] = defaultdict(int)
        # Injected hangs whose caller is still waiting for the answer.
        self._hanging = 0
        # Open client connections: a stopped service drops its kept-alive ones too.
        self._connections: set[socket.socket] = set()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # The answer goes out in two writes (headers, then body). On a kept-alive
                # connection Nagle holds the second until the client's delayed ACK, 40 ms later;
                # real services (Go's net/http, gunicorn) send at once.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with standin._lock:
                    standin._connections.add(self.connection)

            def finish(self) -> None:
                with standin._lock:
                    standin._connections.discard(self.connection)
                super().finish()

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                standin._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                standin._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # --- control -------------------------------------------------------------------------------
    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            open_connections, self._connections = list(self._connections), set()
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client closed it first

    def set_state(self, task_id: str, state: str, progress: int | None = None) -> None:
        with self._lock:
            self.states[task_id] = state
            self.turned_at.setdefault((task_id, state), time.time())
            if progress is not None:
                self.progress[task_id] = progress

    def actions(self, action: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.path == "/tasks" and (action is None or c.body.get("action") == action)
            ]

    def hanging(self) -> int:
        """How many calls are held by an injected hang right now."""
        with self._lock:
            return self._hanging

    def task_ids(self, action: str) -> list[str]:
        return [c.body.get("task_id") for c in self.actions(action)]

    def patch(self, task_id: str, body: dict, release_id: str = "") -> requests.Response:
        sent = time.time()
        resp = requests.patch(
            f"{self.coordinator_url}/tasks/{task_id}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.patch_timeout,
        )
        with self._lock:
            self.push_results.append(resp.status_code)
            self.push_log.append(
                (task_id, release_id, body.get("state"), resp.status_code, sent, time.time())
            )
        return resp

    # --- protocol ------------------------------------------------------------------------------
    def _failure(self, key: str) -> str | None:
        mode = self.fail.get(key)
        if mode is None:
            return None
        limit = self.fail_times.get(key)
        with self._lock:
            if limit is not None and self._fired[key] >= limit:
                return None
            self._fired[key] += 1
        return mode

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        path = handler.path.split("?")[0]
        with self._lock:
            self.calls.append(Call(method, path, body, dict(handler.headers.items()), time.time()))
        if method == "GET" and path == "/status":
            return self._status(handler)
        if method == "POST" and path == "/tasks":
            return self._action(handler, body)
        self._reply(handler, 404, {"message": "not found"})

    def _status(self, handler: BaseHTTPRequestHandler) -> None:
        failure = self._failure("status")
        if failure == "500":
            return self._reply(handler, 500, {"message": "boom"})
        self._reply(handler, 200, {"name": self.name, "version": "1.0.0"})

    def _inject(self, handler: BaseHTTPRequestHandler, action: str) -> bool:
        failure = self._failure(action)
        if failure is None:
            return False
        if failure == "hang":
            with self._lock:
                self._hanging += 1
            try:
                time.sleep(self.hang_seconds)
            finally:
                with self._lock:
                    self._hanging -= 1
            self._reply(handler, 200, {"state": NEXT_STATE.get(action, "running")})
        elif failure in ("refuse", "down"):
            handler.close_connection = True
            handler.connection.close()
            if failure == "down":
                # Not from this handler's own thread's caller: stop() waits for the serve loop.
                threading.Thread(target=self.stop, daemon=True).start()
        elif failure.startswith("state:"):
            self._reply(handler, 200, {"state": failure.split(":", 1)[1]})
        else:
            self._reply(handler, int(failure), {"message": f"injected {failure}"})
        return True

    def _action(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        action, task_id = body.get("action"), body.get("task_id")
        if not task_id or action not in {"initialize", "start", "publish", "cancel", "get_status"}:
            return self._reply(handler, 400, {"message": "bad body"})
        if self._inject(handler, action):
            return None
        if action == "get_status":
            with self._lock:
                state = self.states.get(task_id)
                progress = self.progress.get(task_id, 0)
            if state is None:
                return self._reply(handler, 404, {"message": "unknown task"})
            return self._reply(
                handler,
                200,
                {"name": self.name, "task_id": task_id, "state": state, "progress": progress},
            )
        self.set_state(task_id, NEXT_STATE[action])
        self._reply(
            handler,
            200,
            {
                "name": self.name,
                "task_id": task_id,
                "release_id": body.get("release_id"),
                "state": NEXT_STATE[action],
                "progress": 0,
            },
        )
        self._after(action, task_id, body.get("release_id") or "")
        return None

    def _after(self, action: str, task_id: str, release_id: str) -> None:
        done = {"start": "staged", "publish": "published"}.get(action)
        if self.push_actions is not None:
            if action in self.push_actions:
                threading.Thread(
                    target=self._push, args=(task_id, done, release_id), daemon=True
                ).start()
            return
        if done is None or self.mode == "manual":
            return
        if self.mode == "poll":
            self.set_state(task_id, done, 100)
            return
        threading.Thread(target=self._push, args=(task_id, done, release_id), daemon=True).start()

    def _push(self, task_id: str, state: str, release_id: str = "") -> None:
        if self.push_delay:
            time.sleep(self.push_delay)
        self.set_state(task_id, state, 100)
        self.patch(task_id, {"state": state, "progress": 100}, release_id)


def patch_task(url: str, token: str, task_id: str, body: dict) -> int:
    """One PATCH from a task service, for `run_concurrently` (runs in its own process)."""
    resp = requests.patch(
        f"{url}/tasks/{task_id}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    return resp.status_code
