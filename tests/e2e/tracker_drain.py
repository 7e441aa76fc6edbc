"""One drone in the concurrency test: get + release over HTTP until the project is empty.

http.client keeps the client processes light so the 2-core CI machine spends its time on the
server; the requests are the ones the Go client sends (no Content-Type, X-Worker-Id/X-Secret).
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse


def _call(host: str, port: int, method: str, path: str, headers: dict, body: bytes | None):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


def drain(url: str, worker_id: int, secret: str, project: int) -> dict:
    """Returns every task id this worker was assigned and every one it closed."""
    parsed = urlparse(url)
    headers = {"X-Worker-Id": str(worker_id), "X-Secret": secret}
    assigned: list[int] = []
    closed: list[int] = []
    while True:
        status, reply = _call(
            parsed.hostname, parsed.port, "GET", f"/task/get/{project}", headers, None
        )
        if status != 200:
            raise AssertionError(f"/task/get answered {status}: {reply}")
        if not reply["ok"]:
            assert reply["message"] == "No task available", reply
            return {"assigned": assigned, "closed": closed}
        task_id = reply["content"]["task"]["id"]
        assigned.append(task_id)
        body = json.dumps({"task_id": task_id, "result": 0, "verification": 0}).encode()
        status, reply = _call(parsed.hostname, parsed.port, "POST", "/task/release", headers, body)
        if status == 200 and reply["content"]["updated"]:
            closed.append(task_id)
