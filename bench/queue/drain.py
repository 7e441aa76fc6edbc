"""The two kinds of client process: one talks HTTP to the web server, one runs the server's SQL.

Both loop "get a task, release it" until the project is empty, so their rates compare the web
stack (gunicorn + Django + auth + JSON) against the database work alone.
"""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlparse

import psycopg2

from domain.tracker.sql.common import CONTEXT_SQL
from domain.tracker.sql.postgresql import ASSIGN_SQL, CLOSE_SINGLE_SQL


def drain_http(url: str, worker_id: int, secret: str, project: int, start_at: float) -> int:
    """GET /task/get + POST /task/release until "No task available"; returns tasks closed.

    http.client rather than requests: the client's CPU comes out of the same two cores as the
    server's. One connection per client, kept alive as a drone's HTTP client keeps it; when the
    server closes it after a response (`Connection: close`), http.client opens a new one for
    the next request.
    """
    parsed = urlparse(url)
    headers = {"X-Worker-Id": str(worker_id), "X-Secret": secret}
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    time.sleep(max(0.0, start_at - time.time()))
    closed = 0
    try:
        while True:
            reply = _call(conn, "GET", f"/task/get/{project}", headers, None)
            if not reply["ok"]:
                return closed
            task_id = reply["content"]["task"]["id"]
            body = b'{"task_id": %d, "result": 0, "verification": 0}' % task_id
            closed += _call(conn, "POST", "/task/release", headers, body)["content"]["updated"]
    finally:
        conn.close()


def _call(
    conn: http.client.HTTPConnection, method: str, path: str, headers: dict, body: bytes | None
) -> dict:
    try:
        conn.request(method, path, body=body, headers=headers)
        return json.loads(conn.getresponse().read())
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        # The server closed an idle kept-alive connection just as we sent: send it again on a
        # new one (a get or release that never reached the server changed nothing).
        conn.close()
        conn.request(method, path, body=body, headers=headers)
        return json.loads(conn.getresponse().read())


def drain_sql(dsn: str, worker_id: int, project: int, start_at: float) -> int:
    """The statements the server issues per get and release, straight to PostgreSQL (the web
    process also runs Django's connection health check; secret hashes are cached)."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    time.sleep(max(0.0, start_at - time.time()))
    closed = 0
    while True:
        cur.execute(CONTEXT_SQL, {"project": project, "worker": worker_id})
        cur.fetchone()
        cur.execute(ASSIGN_SQL, {"worker": worker_id, "now": int(time.time()), "project": project})
        row = cur.fetchone()
        if row is None:
            return closed
        cur.execute(CLOSE_SINGLE_SQL, {"task": row[0], "worker": worker_id})
        closed += cur.fetchone()[0]
