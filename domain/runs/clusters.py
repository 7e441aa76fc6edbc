"""Cluster metadata (spec B.8) and which cluster a new run goes to (spec B.4)."""

from __future__ import annotations

import random
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from domain.common.errors import Conflict, InvalidInput, NotFound
from domain.executions.conf import cluster_names
from domain.runs import conf
from domain.runs.models import CLUSTER_CAPABILITIES, ClusterMetadata, ClusterStatus

EDITABLE = (
    "name",
    "cluster_version",
    "status",
    "status_reason",
    "allowed_tiers",
    "capabilities",
    "namespace",
    "region",
    "emr_virtual_cluster",
    "spark_server_uri",
)


def cluster_create(*, name: str, **fields: Any) -> ClusterMetadata:
    if not name:
        raise InvalidInput("string [name] must be specified")
    cluster = ClusterMetadata(name=name)
    _apply(cluster, fields)
    try:
        with transaction.atomic():
            cluster.save(force_insert=True)
    except IntegrityError:
        raise Conflict(f"cluster with name [{name}] already exists") from None
    return cluster


def cluster_update(*, cluster_id: str, changes: dict[str, Any]) -> ClusterMetadata:
    """Fields given (not null) replace the stored ones; a new status restarts status_since."""
    try:
        with transaction.atomic():
            cluster = ClusterMetadata.objects.select_for_update().filter(pk=cluster_id).first()
            if cluster is None:
                raise NotFound(f"cluster {cluster_id} not found")
            _apply(cluster, {k: v for k, v in changes.items() if v is not None})
            if not cluster.name:
                raise InvalidInput("string [name] must not be empty")
            cluster.save()
    except IntegrityError:
        raise Conflict(f"cluster with name [{changes.get('name')}] already exists") from None
    return cluster


def cluster_delete(*, cluster_id: str) -> None:
    deleted, _ = ClusterMetadata.objects.filter(pk=cluster_id).delete()
    if not deleted:
        raise NotFound(f"cluster {cluster_id} not found")


def _apply(cluster: ClusterMetadata, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"unknown cluster fields: {', '.join(sorted(unknown))}")
    status = fields.get("status")
    if status is not None and status not in ClusterStatus.values:
        raise InvalidInput(f"status must be one of [{', '.join(ClusterStatus.values)}]")
    capabilities = fields.get("capabilities") or []
    if any(c not in CLUSTER_CAPABILITIES for c in capabilities):
        raise InvalidInput(f"capabilities must be among [{', '.join(CLUSTER_CAPABILITIES)}]")
    if status is not None and status != cluster.status:
        cluster.status_since = timezone.now()
    for name, value in fields.items():
        setattr(cluster, name, value)
    cluster.updated_at = timezone.now()


def cluster_resolve(*, requested: str, tier: str, target_cluster: str, gpu: int | None) -> str:
    """The cluster a run goes to: the one asked for, else an active cluster that allows the
    run's tier (chosen at random, as the original spread runs), else the definition's target
    cluster, else the GPU cluster for a GPU run, else the default. It must be a cluster this
    deployment can run on (the original's fallback answered 500; this is a 400)."""
    known = set(cluster_names())
    name = (
        requested
        or _tier_cluster(tier, known)
        or target_cluster
        or (conf.gpu_cluster() if gpu else "")
        or conf.default_cluster()
    )
    if name not in known:
        raise InvalidInput(f"cluster [{name}] is not one of [{', '.join(sorted(known))}]")
    return name


def _tier_cluster(tier: str, known: set[str]) -> str:
    if not tier:
        return ""
    candidates = [
        c.name
        for c in ClusterMetadata.objects.filter(status=ClusterStatus.ACTIVE).order_by("name")
        if tier in (c.allowed_tiers or []) and c.name in known
    ]
    return random.choice(candidates) if candidates else ""
