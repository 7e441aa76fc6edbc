"""A hostile HTTP server on 127.0.0.1, for the outbound-call policy: it answers every request the
same way, byte for byte, whatever the method and path.

Modes:
- redirect: `302` to `location` (e.g. a stand-in playing an internal host);
- drip: a small valid answer (`{"name": …, "state": "pending", "keys": []}`) sent one byte every
  `drip_interval` seconds, status line and headers included, so no single read ever times out;
- huge: `size` bytes of valid JSON that holds `name`, with a Content-Length, or without one
  (`declare_length=False`: the body ends when the server closes the connection).
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field

SMALL_BODY = {"name": "hostile", "state": "pending", "results": [], "keys": []}


@dataclass
class HostileServer:
    mode: str
    location: str = ""
    drip_interval: float = 0.05
    size: int = 4 * 1024 * 1024
    declare_length: bool = True
    # Request lines received, and whether each answer was sent in full.
    requests: list[str] = field(default_factory=list)
    finished: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        hostile = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                hostile._handle(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(4096)
            if not data:
                return
            head += data
        self._read_body(conn, head)
        with self._lock:
            self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
        try:
            getattr(self, f"_{self.mode}")(conn)
        except OSError:
            done = False  # the client went away first
        else:
            done = True
        with self._lock:
            self.finished.append(done)

    @staticmethod
    def _read_body(conn: socket.socket, head: bytes) -> None:
        # Closing a socket with request bytes still unread sends a reset instead of a FIN, and a
        # reset can destroy the answer before the client has read it all: read the body first.
        headers, _, received = head.partition(b"\r\n\r\n")
        length = 0
        for line in headers.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        remaining = length - len(received)
        while remaining > 0:
            data = conn.recv(min(remaining, 65536))
            if not data:
                return
            remaining -= len(data)

    def _redirect(self, conn: socket.socket) -> None:
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: {self.location}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )

    def _drip(self, conn: socket.socket) -> None:
        body = json.dumps(SMALL_BODY).encode()
        answer = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        for i in range(len(answer)):
            conn.sendall(answer[i : i + 1])
            time.sleep(self.drip_interval)

    def _huge(self, conn: socket.socket) -> None:
        prefix, suffix = b'{"name": "huge", "keys": [], "pad": "', b'"}'
        pad = self.size - len(prefix) - len(suffix)
        length = f"Content-Length: {self.size}\r\n" if self.declare_length else ""
        conn.sendall(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"{length}Connection: close\r\n\r\n".encode()
        )
        conn.sendall(prefix)
        chunk = b"a" * 65536
        while pad > 0:
            conn.sendall(chunk[:pad])
            pad -= len(chunk)
        conn.sendall(suffix)
        conn.shutdown(socket.SHUT_WR)
