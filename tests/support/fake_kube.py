"""A stand-in Kubernetes API server: a real HTTP server on 127.0.0.1 that answers the few calls
the kubernetes engine makes, the way kube-apiserver answers them.

- POST   /apis/batch/v1/namespaces/{ns}/jobs            create (201; 409 AlreadyExists)
- GET    /apis/batch/v1/namespaces/{ns}/jobs/{name}     read (404 NotFound)
- DELETE /apis/batch/v1/namespaces/{ns}/jobs/{name}     the body's propagationPolicy is recorded
- GET    /api/v1/namespaces/{ns}/pods?labelSelector=    equality selectors only (`a=b,c=d`)
- GET    /api/v1/namespaces/{ns}/pods/{pod}/log          text/plain, `container` recorded
- GET    /api/v1/namespaces/{ns}/events?fieldSelector=  `involvedObject.name=<pod>` only
- POST   /api/v1/namespaces/{ns}/secrets                create (201; 409 AlreadyExists)
- PATCH  /api/v1/namespaces/{ns}/secrets/{name}         JSON merge patch only, else 415 (the
                                                        apiserver takes other patch types too)
- DELETE /api/v1/namespaces/{ns}/secrets/{name}         delete (404 NotFound)

Jobs and Secrets get what the apiserver adds on create (uid, creationTimestamp; a Job an empty
status). Nothing garbage-collects: a Secret owned by a deleted Job stays. Pods,
logs and events are whatever a test puts in `pods`, `logs` and `events`: nothing here runs a
Job. `fail[operation] = status` makes that operation answer with a Status of that code
(operations: create_job, read_job, delete_job, list_pods, read_log, list_events, create_secret,
patch_secret, delete_secret).
`kubeconfig(path)` writes a kubeconfig pointing at this server, as a cluster admin would.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "AlreadyExists",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}

ROUTES = [
    ("POST", re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs$"), "create_job"),
    ("GET", re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)$"), "read_job"),
    ("DELETE", re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)$"), "delete_job"),
    ("GET", re.compile(r"^/api/v1/namespaces/([^/]+)/pods$"), "list_pods"),
    ("GET", re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$"), "read_log"),
    ("GET", re.compile(r"^/api/v1/namespaces/([^/]+)/events$"), "list_events"),
    ("POST", re.compile(r"^/api/v1/namespaces/([^/]+)/secrets$"), "create_secret"),
    ("PATCH", re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$"), "patch_secret"),
    ("DELETE", re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$"), "delete_secret"),
]
MERGE_PATCH = "application/merge-patch+json"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


@dataclass
class Reply:
    status: int
    body: Any
    content_type: str = "application/json"


def status_body(code: int, message: str, reason: str | None = None) -> dict:
    """A metav1.Status, the body kube-apiserver sends with every error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeKube:
    jobs: dict[tuple[str, str], dict] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict] = field(default_factory=dict)
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    events: dict[str, list[dict]] = field(default_factory=dict)  # namespace → events
    secrets: dict[tuple[str, str], dict] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    token: str = "fake-bearer-token"
    connections: list[socket.socket] = field(default_factory=list)

    def start(self) -> FakeKube:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                fake.connections.append(self.connection)

            def do_GET(self) -> None:  # noqa: N802
                self.answer()

            def do_POST(self) -> None:  # noqa: N802
                self.answer()

            def do_DELETE(self) -> None:  # noqa: N802
                self.answer()

            def do_PATCH(self) -> None:  # noqa: N802
                self.answer()

            def answer(self) -> None:
                reply = fake.handle(self.command, self.path, self.read_body(), dict(self.headers))
                data = reply.body if isinstance(reply.body, bytes) else _encode(reply.body)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def read_body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every kept-alive connection: the apiserver is gone."""
        self.server.shutdown()
        self.server.server_close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def kubeconfig(self, path: Path, *, context: str = "fake", namespace: str = "") -> Path:
        """A kubeconfig file (JSON is YAML) whose context points at this server."""
        ctx = {"cluster": "fake-cluster", "user": "fake-user"}
        if namespace:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-user", "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }
        path.write_text(json.dumps(config))
        return path

    # What a test puts in the cluster -------------------------------------------------------

    def put_pod(self, pod: dict) -> None:
        meta = pod["metadata"]
        self.pods[(meta.get("namespace", "default"), meta["name"])] = pod

    def put_event(self, event: dict) -> None:
        namespace = event["metadata"].get("namespace", "default")
        self.events.setdefault(namespace, []).append(event)

    def calls(self, method: str, path_part: str = "") -> list[Request]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # Routing -------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: Any, headers: dict[str, str]) -> Reply:
        url = urlparse(raw_path)
        self.requests.append(Request(method, url.path, parse_qs(url.query), body, headers))
        credentials = _lowered(headers).get("authorization")
        if credentials != f"Bearer {self.token}":
            return Reply(401, status_body(401, "Unauthorized", "Unauthorized"))
        for route_method, pattern, operation in ROUTES:
            match = pattern.match(url.path)
            if route_method == method and match:
                if operation in self.fail:
                    code = self.fail[operation]
                    return Reply(code, status_body(code, f"injected failure of {operation}"))
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                call = getattr(self, operation)
                return call(*match.groups(), query=query, body=body, headers=_lowered(headers))
        return Reply(404, status_body(404, f"the server could not find {url.path}"))

    def create_job(self, namespace: str, *, query: dict, body: Any, headers: dict) -> Reply:
        reply = _create(self.jobs, namespace, body, kind="Job", resource="jobs.batch")
        if reply.status == 201:
            reply.body["status"] = {}
        return reply

    def read_job(
        self, namespace: str, name: str, *, query: dict, body: Any, headers: dict
    ) -> Reply:
        job = self.jobs.get((namespace, name))
        if job is None:
            return Reply(404, status_body(404, f'jobs.batch "{name}" not found'))
        return Reply(200, job)

    def delete_job(
        self, namespace: str, name: str, *, query: dict, body: Any, headers: dict
    ) -> Reply:
        job = self.jobs.pop((namespace, name), None)
        if job is None:
            return Reply(404, status_body(404, f'jobs.batch "{name}" not found'))
        # A foreground delete answers with the object, marked for deletion, while the garbage
        # collector removes its pods; here they go at once.
        for key in [k for k, pod in self.pods.items() if _job_of(pod) == name]:
            del self.pods[key]
        job["metadata"]["deletionTimestamp"] = now()
        job["metadata"]["finalizers"] = ["foregroundDeletion"]
        return Reply(200, job)

    def list_pods(self, namespace: str, *, query: dict, body: Any, headers: dict) -> Reply:
        wanted = _equality_selector(query.get("labelSelector", ""))
        items = [
            pod
            for (ns, _), pod in self.pods.items()
            if ns == namespace and _labels_match(pod["metadata"].get("labels", {}), wanted)
        ]
        return Reply(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})

    def read_log(self, namespace: str, pod: str, *, query: dict, body: Any, headers: dict) -> Reply:
        if (namespace, pod) not in self.pods:
            return Reply(404, status_body(404, f'pods "{pod}" not found'))
        text = self.logs.get((namespace, pod))
        if text is None:
            message = f'container "main" in pod "{pod}" is waiting to start: ContainerCreating'
            return Reply(400, status_body(400, message))
        return Reply(200, text.encode(), "text/plain")

    def list_events(self, namespace: str, *, query: dict, body: Any, headers: dict) -> Reply:
        wanted = _equality_selector(query.get("fieldSelector", "")).get("involvedObject.name")
        items = [
            event
            for event in self.events.get(namespace, [])
            if wanted is None or event.get("involvedObject", {}).get("name") == wanted
        ]
        return Reply(200, {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": items})

    def create_secret(self, namespace: str, *, query: dict, body: Any, headers: dict) -> Reply:
        return _create(self.secrets, namespace, body, kind="Secret", resource="secrets")

    def patch_secret(
        self, namespace: str, name: str, *, query: dict, body: Any, headers: dict
    ) -> Reply:
        content_type = headers.get("content-type", "")
        if content_type.split(";")[0].strip() != MERGE_PATCH:
            message = f"the server only takes {MERGE_PATCH} here, not {content_type!r}"
            return Reply(415, status_body(415, message))
        secret = self.secrets.get((namespace, name))
        if secret is None:
            return Reply(404, status_body(404, f'secrets "{name}" not found'))
        self.secrets[(namespace, name)] = merge_patch(secret, body)
        return Reply(200, self.secrets[(namespace, name)])

    def delete_secret(
        self, namespace: str, name: str, *, query: dict, body: Any, headers: dict
    ) -> Reply:
        secret = self.secrets.pop((namespace, name), None)
        if secret is None:
            return Reply(404, status_body(404, f'secrets "{name}" not found'))
        details = {"name": name, "kind": "secrets", "uid": secret["metadata"]["uid"]}
        success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        return Reply(200, success | {"details": details})


def _create(store: dict, namespace: str, body: Any, *, kind: str, resource: str) -> Reply:
    """Store a copy of `body` with what the apiserver adds; 409 AlreadyExists for a name taken."""
    if not isinstance(body, dict) or body.get("kind") != kind:
        return Reply(400, status_body(400, f"the body is not a {kind}"))
    name = body.get("metadata", {}).get("name", "")
    if (namespace, name) in store:
        message = f'{resource} "{name}" already exists'
        return Reply(409, status_body(409, message, "AlreadyExists"))
    created = json.loads(json.dumps(body))
    meta = created["metadata"]
    meta.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=now())
    meta["resourceVersion"] = "1"
    store[(namespace, name)] = created
    return Reply(201, created)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge member by member, null removes a member, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _lowered(headers: dict[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _encode(body: Any) -> bytes:
    return json.dumps(body).encode()


def _equality_selector(selector: str) -> dict[str, str]:
    pairs = [part.split("=", 1) for part in selector.split(",") if "=" in part]
    return {key.strip(): value.strip() for key, value in pairs}


def _labels_match(labels: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in wanted.items())


def _job_of(pod: dict) -> str:
    return pod["metadata"].get("labels", {}).get("job-name", "")
