"""Queued executions meet free slots: who runs next, and where.

A host offers `slots` (and cpus, memory, gpus); an execution holds one slot from PENDING until it
ends. Dispatch locks each host row in turn, counts what its active executions hold, and moves
the cluster's oldest QUEUED executions (priority first) to PENDING on that host. A second
dispatcher waits for the host's lock rather than skipping the host: the first one read the queue
before the second's execution was committed, so skipping would leave that execution queued
beside a free slot until something else dispatched the cluster. A host that is full takes
nothing; an execution bigger than what a host has left waits for another host or a later
dispatch, and never blocks smaller ones behind it.
Remote engines (kubernetes) have no hosts here: their scheduler takes every queued execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from domain.common.steps import step_after_commit
from domain.executions import conf
from domain.executions.models import ACTIVE_STATES, Execution, ExecutionState, Host
from domain.executions.states import execution_transition
from domain.executions.steps import LaunchExecution

# Queued executions examined per host per dispatch: enough to fill any host's free slots past
# executions that do not fit, bounded so one dispatch stays one short transaction.
SCAN_LIMIT = 500


@dataclass
class Room:
    slots: int
    cpus: float
    mem_mb: float
    gpus: int

    def fits(self, resources: dict) -> bool:
        return (
            self.slots >= 1
            and _want(resources, "cpus") <= self.cpus
            and _want(resources, "mem_mb") <= self.mem_mb
            and _want(resources, "gpus") <= self.gpus
        )

    def take(self, resources: dict) -> None:
        self.slots -= 1
        self.cpus -= _want(resources, "cpus")
        self.mem_mb -= _want(resources, "mem_mb")
        self.gpus -= int(_want(resources, "gpus"))


def _want(resources: dict, key: str) -> float:
    value = resources.get(key) or 0
    return float(value) if isinstance(value, int | float) else 0.0


def execution_dispatch(*, cluster: str) -> int:
    """Give the cluster's queued executions the free slots of its live hosts. Returns how many
    were handed out."""
    engine = _cluster_engine(cluster)
    if engine is None:
        return 0
    if engine not in conf.HOST_ENGINES:
        return _dispatch_remote(cluster)
    handed = 0
    for host_name in _live_host_names(cluster):
        handed += _fill_host(host_name, cluster)
    return handed


def _cluster_engine(cluster: str) -> str | None:
    if cluster in conf.clusters():
        return conf.cluster_engine(cluster)
    # A dispatcher whose settings lag behind the web's (a rolling deploy adding a cluster) goes
    # by the engine its executions recorded when they were created; the hosts say what they
    # serve themselves.
    return (
        Execution.objects.filter(cluster=cluster, state=ExecutionState.QUEUED)
        .values_list("engine", flat=True)
        .first()
    )


def _live_host_names(cluster: str) -> list[str]:
    since = timezone.now() - timedelta(seconds=conf.HOST_TIMEOUT)
    hosts = Host.objects.filter(heartbeat_at__gte=since).order_by("name")
    return [h.name for h in hosts if cluster in h.clusters]


def _fill_host(host_name: str, cluster: str) -> int:
    with transaction.atomic():
        host = Host.objects.select_for_update().filter(pk=host_name).first()
        if host is None:
            return 0
        room = _room(host)
        if room.slots <= 0:
            return 0
        queued = (
            Execution.objects.select_for_update(skip_locked=True)
            .filter(state=ExecutionState.QUEUED, cluster=cluster)
            .order_by("priority", "queued_at", "id")
            .only("id", "resources")[:SCAN_LIMIT]
        )
        handed = 0
        for execution in queued:
            if room.slots <= 0:
                break
            if not room.fits(execution.resources):
                continue
            if _claim(execution.id, host):
                room.take(execution.resources)
                handed += 1
        return handed


def _room(host: Host) -> Room:
    room = Room(slots=host.slots, cpus=host.cpus, mem_mb=host.mem_mb, gpus=host.gpus)
    for resources in Execution.objects.filter(host=host.name, state__in=ACTIVE_STATES).values_list(
        "resources", flat=True
    ):
        room.take(resources or {})
    return room


def _claim(execution_id: str, host: Host) -> bool:
    now = timezone.now()
    result = execution_transition(
        execution_id=execution_id,
        target=ExecutionState.PENDING,
        allowed_from=[ExecutionState.QUEUED],
        updates={"host": host.name, "pending_at": now},
        reason=f"slot on {host.name}",
    )
    if result.applied:
        step_after_commit(LaunchExecution(execution_id=execution_id, queue=host.queue))
    return result.applied


def _dispatch_remote(cluster: str) -> int:
    with transaction.atomic():
        queued = list(
            Execution.objects.select_for_update(skip_locked=True)
            .filter(state=ExecutionState.QUEUED, cluster=cluster)
            .order_by("priority", "queued_at", "id")
            .values_list("id", flat=True)[:SCAN_LIMIT]
        )
        for execution_id in queued:
            result = execution_transition(
                execution_id=execution_id,
                target=ExecutionState.PENDING,
                allowed_from=[ExecutionState.QUEUED],
                updates={"host": conf.REMOTE_HOST, "pending_at": timezone.now()},
                reason="submitted to the cluster's scheduler",
            )
            if result.applied:
                step_after_commit(
                    LaunchExecution(execution_id=execution_id, queue=conf.REMOTE_QUEUE)
                )
        return len(queued)
