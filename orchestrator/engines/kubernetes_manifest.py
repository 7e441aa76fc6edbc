"""The batch/v1 Job the kubernetes engine submits for one execution.

Flotilla's shape (spec B.1, B.6): one Job per run, named by the run id, no Kubernetes-level
retries (backoffLimit 0; retries are Regatta's), the run's deadline as activeDeadlineSeconds,
finished Jobs garbage-collected after an hour. The pod runs as an unprivileged user with the
settings of the "restricted" Pod Security Standard, so it is admitted in namespaces enforcing it.

An owner that wants an output directory (LaunchSpec.output_env: a Scale job's OUTPUT_DIR) gets
an emptyDir volume there, writable by the pod's user; secret variables are only referred to,
from the execution's Secret (kubernetes_secret.py). Without either, the Job is Flotilla's.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from domain.executions.mounts import MountRefused, mounts_resolved
from orchestrator.engines.base import LaunchRefused, LaunchSpec
from orchestrator.engines.kubernetes_secret import secret_refs

EXECUTION_LABEL = "regatta.io/execution"
CONTAINER = "main"
TTL_AFTER_FINISHED = 3600
UNPRIVILEGED_UID = 65534  # nobody
INT64_MAX = 2**63 - 1
DEFAULT_NAMESPACE = "default"
OUTPUT_VOLUME = "outputs"
OUTPUT_PATH = "/regatta/outputs"

# A DNS-1123 label: what a namespace, and (for its pods' job-name label) a Job name, must be.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_LABEL = 63
# Prefixes Kubernetes reserves for its own labels, and ours: a caller's label may not claim them.
RESERVED_PREFIXES = ("kubernetes.io", "k8s.io", "regatta.io")


def job_manifest(spec: LaunchSpec, *, secret_names: Sequence[str] = ()) -> dict:
    """The Job for `spec`, as a plain dict (what is POSTed to the API server). `secret_names`:
    the variables read from the execution's Secret (their values are never in the Job)."""
    if spec.stages_files:
        raise LaunchRefused(
            "the kubernetes engine cannot stage input files or collect output files (a pod has"
            " no scratch directory on a Regatta host, and no shared volume is configured):"
            " run this job on a local or docker cluster"
        )
    labels = {**sanitized_labels(spec.labels), EXECUTION_LABEL: label_value(spec.execution_id)}
    pod_spec: dict = {
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UNPRIVILEGED_UID,
            "runAsGroup": UNPRIVILEGED_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(spec, secret_names)],
    }
    _attach_volumes(pod_spec, spec)
    if spec.options.get("service_account"):
        pod_spec["serviceAccountName"] = str(spec.options["service_account"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(spec.execution_id),
            "namespace": namespace_of(spec.options),
            "labels": labels,
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": _deadline(spec.deadline_seconds),
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def _attach_volumes(pod_spec: dict, spec: LaunchSpec) -> None:
    volumes, volume_mounts = host_volumes(spec)
    if spec.output_env:
        volumes.append({"name": OUTPUT_VOLUME, "emptyDir": {}})
        volume_mounts.append({"name": OUTPUT_VOLUME, "mountPath": OUTPUT_PATH})
        # The volume is handed to the pod's group (and group-writable): the unprivileged user
        # writes it whatever mode the node gives a new emptyDir.
        pod_spec["securityContext"]["fsGroup"] = UNPRIVILEGED_UID
    if volumes:
        pod_spec["volumes"] = volumes
        pod_spec["containers"][0]["volumeMounts"] = volume_mounts


def _container(spec: LaunchSpec, secret_names: Sequence[str]) -> dict:
    if not spec.image:
        raise LaunchRefused("the kubernetes engine needs an image to run the command in")
    container: dict = {
        "name": CONTAINER,
        "image": spec.image,
        "command": ["bash", "-cex", escape_references(spec.command)],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": UNPRIVILEGED_UID,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    env = container_env(spec, secret_names)
    if env:
        container["env"] = env
    amounts = resource_amounts(spec)
    if amounts:
        # Requests equal to limits: the pod gets exactly what the run asked for (and, with cpu
        # and memory both set, the Guaranteed QoS class, the last to be evicted).
        container["resources"] = {"requests": amounts, "limits": dict(amounts)}
    return container


def host_volumes(spec: LaunchSpec) -> tuple[list[dict], list[dict]]:
    """Host mounts as hostPath volumes (an existing directory on the node) and the container's
    mounts of them. A node's symbolic links cannot be seen from here: its path is checked
    against the allowed roots as written, with `..` taken out. Volume mounts have no faithful
    counterpart (a docker volume driver and its options are not a Kubernetes volume source)."""
    try:
        mounts = mounts_resolved(spec.mounts, resolve=False)
    except MountRefused as exc:
        raise LaunchRefused(exc.message) from exc
    volumes, volume_mounts = [], []
    for index, mount in enumerate(mounts):
        if mount.kind != "host":
            raise LaunchRefused(
                f"mount {mount.name} is a volume ({mount.driver or 'local'} driver): the"
                " kubernetes engine applies only host mounts"
            )
        name = f"mount-{index}"
        volumes.append({"name": name, "hostPath": {"path": mount.host_path, "type": "Directory"}})
        volume_mounts.append({"name": name, "mountPath": mount.path, "readOnly": mount.read_only})
    return volumes, volume_mounts


def namespace_of(options: dict) -> str:
    namespace = str(options.get("namespace") or DEFAULT_NAMESPACE)
    if not DNS_LABEL.match(namespace):
        raise LaunchRefused(f"namespace {namespace!r} is not a valid Kubernetes namespace name")
    return namespace


def job_name(execution_id: str) -> str:
    """The execution id itself when it is a valid DNS-1123 label (Flotilla's run ids are),
    else a cleaned form plus a digest of the id, so two ids never share a Job."""
    if DNS_LABEL.match(execution_id):
        return execution_id
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:10]
    cleaned = re.sub(r"[^a-z0-9]+", "-", execution_id.lower())[: MAX_LABEL - 11].strip("-")
    return f"{cleaned or 'regatta'}-{digest}"


def escape_references(text: str) -> str:
    """Kubernetes expands `$(NAME)` in a container's command and env values and turns `$$` into
    `$`; doubling every `$` hands bash the text exactly as it was written."""
    return text.replace("$", "$$")


def container_env(spec: LaunchSpec, secret_names: Sequence[str]) -> list[dict]:
    """The spec's variables, then the output directory's, then those read from the Secret (the
    order the host engines add them in). Later names win; each name keeps the place of its
    last occurrence. Empty names are dropped (spec B.5)."""
    entries = [{"name": name, "value": escape_references(value)} for name, value in spec.env]
    if spec.output_env:
        entries.append({"name": spec.output_env, "value": OUTPUT_PATH})
    entries += secret_refs(job_name=job_name(spec.execution_id), names=list(secret_names))
    last = {entry["name"]: index for index, entry in enumerate(entries)}
    return [
        entry
        for index, entry in enumerate(entries)
        if entry["name"] and last[entry["name"]] == index
    ]


def resource_amounts(spec: LaunchSpec) -> dict[str, str]:
    amounts: dict[str, str] = {}
    if spec.cpus is not None:
        if not math.isfinite(spec.cpus) or spec.cpus <= 0:
            raise LaunchRefused(f"cpus must be a positive number, not {spec.cpus}")
        amounts["cpu"] = f"{max(1, round(spec.cpus * 1000))}m"
    if spec.mem_mb is not None:
        amounts["memory"] = f"{_whole('mem_mb', spec.mem_mb)}Mi"
    if spec.disk_mb is not None:
        amounts["ephemeral-storage"] = f"{_whole('disk_mb', spec.disk_mb)}Mi"
    if spec.gpus:
        amounts["nvidia.com/gpu"] = str(_whole("gpus", spec.gpus))
    return amounts


def _whole(name: str, amount: int) -> int:
    if not isinstance(amount, int) or amount <= 0:
        raise LaunchRefused(f"{name} must be a positive whole number, not {amount!r}")
    return amount


def _deadline(seconds: int) -> int:
    if seconds < 1:
        raise LaunchRefused(f"the deadline must be at least 1 second, not {seconds}")
    return min(int(seconds), INT64_MAX)


def sanitized_labels(labels: dict[str, str]) -> dict[str, str]:
    """Labels made valid: a key's prefix must be a DNS subdomain outside the reserved ones, its
    name and the value 63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric.
    What cannot be made valid (an empty name) is dropped; of two keys that clean alike, the
    later wins."""
    cleaned: dict[str, str] = {}
    for key, value in labels.items():
        clean_key = label_key(str(key))
        if clean_key:
            cleaned[clean_key] = label_value(str(value))
    return cleaned


def label_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    name = label_value(name)
    prefix = _label_prefix(prefix)
    if not name:
        return ""
    return f"{prefix}/{name}" if prefix else name


def label_value(value: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value)
    return _trim_to_alphanumeric(cleaned[:MAX_LABEL])


def _label_prefix(prefix: str) -> str:
    parts = [re.sub(r"[^a-z0-9-]+", "-", part.lower()).strip("-") for part in prefix.split(".")]
    subdomain = ".".join(part[:MAX_LABEL].strip("-") for part in parts if part.strip("-"))
    if len(subdomain) > 253 or _is_reserved(subdomain):
        return ""
    return subdomain


def _is_reserved(subdomain: str) -> bool:
    return any(subdomain == p or subdomain.endswith("." + p) for p in RESERVED_PREFIXES)


def _trim_to_alphanumeric(text: str) -> str:
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", text)
