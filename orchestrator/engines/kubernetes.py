"""The kubernetes engine: one batch/v1 Job per execution, through the official `kubernetes`
client (spec B.1, B.6).

    launch   POST the execution's Secret when it has secret variables (kubernetes_secret),
             POST the Job (kubernetes_manifest.job_manifest); "already exists" is submitted;
             PATCH the Secret's ownerReferences to the Job (deleted with it)
    status   GET the Job, LIST its pods (label job-name), LIST the Job's and pods' events
             → kubernetes_status.remote_status
    stop     DELETE the Job, propagationPolicy Foreground (its pods go first)
    logs     GET the newest pod's log (container main), streamed, lines after an offset

Which cluster: the cluster's options (`kubeconfig`, `context`) are copied into the engine_ref
at launch, so later calls reach the same API server; without them, $KUBECONFIG, then the
in-cluster service account, then ~/.kube/config.

This has NOT run against a live cluster (none can run on the project's machines): it is
checked against the Kubernetes OpenAPI schema, recorded Job/Pod objects and a fake API server
(tests/orchestrator/engines/test_kubernetes_engine.py, docs/engines.md).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from orchestrator.engines.base import (
    EngineUnavailable,
    LaunchRefused,
    LaunchSpec,
    RemoteStatus,
)
from orchestrator.engines.kubernetes_manifest import CONTAINER, job_manifest, namespace_of
from orchestrator.engines.kubernetes_secret import secret_manifest, secret_owner_patch
from orchestrator.engines.kubernetes_status import newest_pod, pods_newest_first, remote_status

__all__ = ["KubernetesEngine", "job_manifest"]
logger = logging.getLogger(__name__)

# (connect, read) seconds: a slow API server makes a sweep wait, never hang.
REQUEST_TIMEOUT = (5, 30)
# One read_logs call returns at most this many lines; the caller asks again from the new offset.
LOG_PAGE_LINES = 1000
# A longer line is cut there with a marker (never held whole in memory).
LOG_MAX_LINE_BYTES = 64 * 1024
LOG_READ_BYTES = 64 * 1024
TRUNCATED = "... [line truncated]"
# Events of at most this many of a Job's pods are read (with backoffLimit 0 there is one).
EVENT_PODS = 5
# Answers that say "not now" rather than "never": credentials, quota, throttling, the server.
TRANSIENT_STATUSES = {0, 401, 403, 408, 429}
CONNECTION_OPTIONS = ("kubeconfig", "context")
MERGE_PATCH = "application/merge-patch+json"


class KubernetesEngine:
    name = "kubernetes"

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], client.ApiClient] = {}
        self._lock = threading.Lock()

    def launch(self, spec: LaunchSpec) -> dict:
        secret_env = _secret_env(spec)
        manifest = job_manifest(spec, secret_names=[name for name, _ in secret_env])
        secret = secret_manifest(job=manifest, env=secret_env) if secret_env else None
        ref = {"job_name": manifest["metadata"]["name"], "namespace": namespace_of(spec.options)}
        ref |= {key: str(spec.options[key]) for key in CONNECTION_OPTIONS if spec.options.get(key)}
        api = self._api_client(ref)
        if secret is None:
            self._create_job(api, manifest)
            return ref
        self._create(partial(self._post_secret, api, secret), "the Secret")
        try:
            created = self._create_job(api, manifest)
        except Exception:
            self._delete_secret(api, secret)
            raise
        self._own_secret(api, secret, ref["job_name"], created or self._job_uid(api, ref))
        return ref

    def _create_job(self, api: client.ApiClient, manifest: dict) -> str | None:
        """The new Job's uid; None when it existed already (a launch retried after a lost
        answer finds its own Job: it was submitted)."""
        created = self._create(partial(self._post_job, api, manifest), "the Job")
        return None if created is None else created.metadata.uid

    def _create(self, post: Callable[[], Any], what: str) -> Any | None:
        try:
            return post()
        except ApiException as exc:
            if exc.status == 409 and _reason(exc) == "AlreadyExists":
                return None
            raise _launch_error(exc, what) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise EngineUnavailable(f"the Kubernetes API is unreachable: {exc}") from exc
        except ValueError as exc:
            # The client's own models refused the manifest before sending it.
            raise LaunchRefused(f"the Kubernetes client refused {what}: {exc}") from exc

    def _post_job(self, api: client.ApiClient, manifest: dict) -> Any:
        return client.BatchV1Api(api).create_namespaced_job(
            namespace=manifest["metadata"]["namespace"],
            body=manifest,
            _request_timeout=REQUEST_TIMEOUT,
        )

    def _post_secret(self, api: client.ApiClient, secret: dict) -> Any:
        return client.CoreV1Api(api).create_namespaced_secret(
            namespace=secret["metadata"]["namespace"],
            body=secret,
            _request_timeout=REQUEST_TIMEOUT,
        )

    def _job_uid(self, api: client.ApiClient, ref: dict) -> str:
        with _unavailable_on_error("reading the Job"):
            job = client.BatchV1Api(api).read_namespaced_job(
                name=ref["job_name"], namespace=ref["namespace"], _request_timeout=REQUEST_TIMEOUT
            )
        return job.metadata.uid

    def _own_secret(self, api: client.ApiClient, secret: dict, job_name: str, job_uid: str) -> None:
        """The Job becomes the Secret's owner. If this fails the launch is tried again: its Job
        and Secret exist by then, and the retry makes the Job the owner."""
        meta = secret["metadata"]
        with _unavailable_on_error("giving the Secret its Job as owner"):
            client.CoreV1Api(api).patch_namespaced_secret(
                name=meta["name"],
                namespace=meta["namespace"],
                body=secret_owner_patch(job_name=job_name, job_uid=job_uid),
                _content_type=MERGE_PATCH,
                _request_timeout=REQUEST_TIMEOUT,
            )

    def _delete_secret(self, api: client.ApiClient, secret: dict) -> None:
        """A launch that made no Job leaves no Secret. Best effort: the launch's own error is
        the one to report, and a retried launch makes the Secret again."""
        meta = secret["metadata"]
        try:
            client.CoreV1Api(api).delete_namespaced_secret(
                name=meta["name"], namespace=meta["namespace"], _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status != 404:
                logger.warning("could not delete Secret %s: %s", meta["name"], exc.status)
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("could not delete Secret %s: %s", meta["name"], exc)

    def status(self, ref: dict) -> RemoteStatus:
        api = self._api_client(ref)
        batch = client.BatchV1Api(api)
        with _unavailable_on_error("reading the Job"):
            try:
                job = batch.read_namespaced_job(
                    name=ref["job_name"],
                    namespace=ref["namespace"],
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except ApiException as exc:
                if exc.status == 404:
                    return remote_status(None, [], [])
                raise
            pods = self._pods(api, ref)
        return remote_status(job, pods, self._events(api, ref, pods))

    def stop(self, ref: dict) -> None:
        batch = client.BatchV1Api(self._api_client(ref))
        with _unavailable_on_error("deleting the Job"):
            try:
                batch.delete_namespaced_job(
                    name=ref["job_name"],
                    namespace=ref["namespace"],
                    body=client.V1DeleteOptions(propagation_policy="Foreground"),
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except ApiException as exc:
                if exc.status != 404:  # already gone: stopped
                    raise

    def read_logs(self, ref: dict, offset: int) -> tuple[list[str], int]:
        api = self._api_client(ref)
        with _unavailable_on_error("reading the log"):
            pod = newest_pod(self._pods(api, ref))
            if pod is None:
                return [], offset
            finished = pod.status is not None and pod.status.phase in ("Succeeded", "Failed")
            try:
                response = client.CoreV1Api(api).read_namespaced_pod_log(
                    name=pod.metadata.name,
                    namespace=ref["namespace"],
                    container=CONTAINER,
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except ApiException as exc:
                # 400: the container has not started yet; 404: the pod went meanwhile.
                if exc.status in (400, 404):
                    return [], offset
                raise
            try:
                lines = _page(response.stream(LOG_READ_BYTES), offset, finished=finished)
            finally:
                response.close()
                response.release_conn()
        return lines, offset + len(lines)

    def _pods(self, api: client.ApiClient, ref: dict) -> list[Any]:
        listed = client.CoreV1Api(api).list_namespaced_pod(
            namespace=ref["namespace"],
            label_selector=f"job-name={ref['job_name']}",
            _request_timeout=REQUEST_TIMEOUT,
        )
        return list(listed.items or [])

    def _events(self, api: client.ApiClient, ref: dict, pods: list[Any]) -> list[Any]:
        """The events of the Job (why it has no pod: a quota, an admission policy; why it
        failed: a deadline) and of its newest pods. Events help, they do not decide: unreadable
        ones (no RBAC for them, say) leave the list empty rather than fail the status."""
        newest = pods_newest_first(pods)[:EVENT_PODS]
        names = [ref["job_name"]] + [pod.metadata.name for pod in newest]
        core = client.CoreV1Api(api)
        events: list[Any] = []
        try:
            for name in names:
                listed = core.list_namespaced_event(
                    namespace=ref["namespace"],
                    field_selector=f"involvedObject.name={name}",
                    _request_timeout=REQUEST_TIMEOUT,
                )
                events.extend(listed.items or [])
        except (ApiException, urllib3.exceptions.HTTPError):
            return []
        return events

    def _api_client(self, ref: dict) -> client.ApiClient:
        key = (str(ref.get("kubeconfig") or ""), str(ref.get("context") or ""))
        with self._lock:
            if key not in self._clients:
                self._clients[key] = client.ApiClient(_configuration(*key))
            return self._clients[key]


def _configuration(kubeconfig: str, context: str) -> client.Configuration:
    """The first of: the cluster's kubeconfig option, $KUBECONFIG, the in-cluster service
    account, ~/.kube/config. Tokens that expire are refreshed by the client's own hooks."""
    configuration = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG", "")
    default = Path("~/.kube/config").expanduser()
    try:
        if path or not os.environ.get("KUBERNETES_SERVICE_HOST"):
            # persist_config=False: a worker never rewrites an operator's kubeconfig file.
            config.load_kube_config(
                config_file=path or str(default),
                context=context or None,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            config.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError, ValueError, yaml.YAMLError) as exc:
        raise EngineUnavailable(f"no usable Kubernetes configuration: {exc}") from exc
    return configuration


@contextmanager
def _unavailable_on_error(doing: str) -> Iterator[None]:
    """An error the caller did not handle itself means "try again later"."""
    try:
        yield
    except ApiException as exc:
        message = f"the Kubernetes API failed {doing}: {exc.status} {_message(exc)}"
        raise EngineUnavailable(message) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise EngineUnavailable(f"the Kubernetes API is unreachable: {exc}") from exc


def _secret_env(spec: LaunchSpec) -> list[tuple[str, str]]:
    """The owner's secret variables, read now. Whatever reading them raised (a secret store
    that does not decrypt, say) means the command cannot start as asked: a refused launch, as a
    failed prepare step is on a host engine. The message never holds a value."""
    if spec.secret_env is None:
        return []
    try:
        return spec.secret_env()
    except Exception as exc:  # noqa: BLE001
        # What the owner's read may raise: a secret store that does not decrypt
        # (ImproperlyConfigured), a job row gone, a database error; as scratch_prepare treats
        # a failed prepare step on the host engines.
        raise LaunchRefused(f"could not read the secret variables: {exc}") from exc


def _launch_error(exc: ApiException, what: str) -> Exception:
    status = exc.status or 0
    if status in TRANSIENT_STATUSES or status >= 500 or status == 409:
        message = f"the Kubernetes API cannot take {what} now: {status} {_message(exc)}"
        return EngineUnavailable(message)
    return LaunchRefused(f"the Kubernetes API refused {what}: {status} {_message(exc)}")


def _status_body(exc: ApiException) -> dict:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _reason(exc: ApiException) -> str:
    return str(_status_body(exc).get("reason") or "")


def _message(exc: ApiException) -> str:
    return str(_status_body(exc).get("message") or exc.reason or "")


def _page(chunks: Iterable[bytes], offset: int, *, finished: bool) -> list[str]:
    """Up to LOG_PAGE_LINES lines after the first `offset`, each ending in "\\n". An unfinished
    last line counts only once the pod has finished: while it runs, the line may still grow."""
    page: list[str] = []
    for index, (line, complete) in enumerate(_lines(chunks)):
        if not complete and not finished:
            break
        if index >= offset:
            page.append(line.decode("utf-8", errors="replace") + "\n")
            if len(page) >= LOG_PAGE_LINES:
                break
    return page


def _lines(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    """(line without its newline, whether it ended with one), holding at most
    LOG_MAX_LINE_BYTES of any line: the rest of a longer line is dropped after a marker."""
    pending = bytearray()
    cut = False
    for chunk in chunks:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            start = len(chunk) if end < 0 else end + 1
            if not cut:
                pending += piece
                if len(pending) > LOG_MAX_LINE_BYTES:
                    del pending[LOG_MAX_LINE_BYTES:]
                    pending += TRUNCATED.encode()
                    cut = True
            if end >= 0:
                yield bytes(pending), True
                pending.clear()
                cut = False
    if pending:
        yield bytes(pending), False
