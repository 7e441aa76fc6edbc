"""A stand-in Kids First dataservice: `GET /studies` paginated with `_links.next`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class DataserviceStandIn:
    def __init__(self, studies: list[dict], page_size: int = 100, status: int = 200) -> None:
        self.studies = studies
        self.page_size = page_size
        self.status = status
        self.requests: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                standin.requests.append(self.path)
                body, code = standin.page(self.path)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path: str) -> tuple[dict, int]:
        if self.status != 200:
            return {"_status": {"code": self.status, "message": "boom"}}, self.status
        query = parse_qs(urlparse(path).query)
        after = int(query.get("after", ["0"])[0])
        chunk = self.studies[after : after + self.page_size]
        nxt = after + self.page_size
        links = {"self": path}
        if nxt < len(self.studies):
            links["next"] = f"/studies?after={nxt}&limit={self.page_size}"
        return {"results": chunk, "_links": links, "total": len(self.studies)}, 200

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
