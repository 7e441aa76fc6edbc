"""The Secret that carries an execution's secret variables to its Job (LaunchSpec.secret_env).

A value written into the Job would be read by anyone who may read Jobs (and kept in its
manifest for as long as the Job lives). Instead each value goes into one Opaque Secret per
execution, named after the Job, and the container refers to it by `secretKeyRef`. The Secret
is made before the Job, then given the Job as its owner (`ownerReferences` with the Job's uid,
known only once the Job exists), so Kubernetes deletes it with the Job: at the Job's
`ttlSecondsAfterFinished`, or when a stop deletes the Job.
"""

from __future__ import annotations

import base64
import re

from orchestrator.engines.base import LaunchRefused

# What a Secret's data key may be; the variables are its keys.
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def secret_name(job_name: str) -> str:
    # A Job name is a DNS-1123 label (at most 63 characters); a Secret name may be longer.
    return f"{job_name}-env"


def secret_manifest(*, job: dict, env: list[tuple[str, str]]) -> dict:
    """The Secret holding `env` for `job` (the Job's manifest): its namespace and labels."""
    meta = job["metadata"]
    data = {}
    for name, value in env:
        if not SECRET_KEY.match(name):
            raise LaunchRefused(f"the secret variable {name!r} cannot be a Kubernetes Secret key")
        data[name] = base64.b64encode(value.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": secret_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": dict(meta["labels"]),
        },
        # Nothing ever edits it: immutable, so the kubelet need not watch it for changes.
        "immutable": True,
        "data": data,
    }


def secret_refs(*, job_name: str, names: list[str]) -> list[dict]:
    """The container's variables read from the Secret. Kubernetes does not expand `$(NAME)`
    in a value read from a Secret, so the values are handed over exactly as stored."""
    secret = secret_name(job_name)
    return [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}}
        for name in names
    ]


def secret_owner_patch(*, job_name: str, job_uid: str) -> dict:
    """A merge patch making the Job the Secret's owner. No `blockOwnerDeletion`: setting it
    needs rights on the Job's finalizers, and nothing waits on the Secret's deletion."""
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": job_name, "uid": job_uid}
    return {"metadata": {"ownerReferences": [owner]}}
