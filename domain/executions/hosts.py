"""Hosts: the machines whose workers run executions, and what each offers."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from domain.common.steps import step_after_commit
from domain.executions import conf
from domain.executions.models import Host
from domain.executions.steps import DispatchCluster


def host_register(
    *,
    name: str,
    queue: str,
    clusters: list[str],
    slots: int,
    cpus: float,
    mem_mb: int,
    disk_mb: int,
    gpus: int = 0,
) -> Host:
    """A worker on `name` starts serving `clusters`: create or refresh its row, and offer it
    what waits in those clusters (executions queued while no host was up would otherwise wait
    for the reconciler)."""
    with transaction.atomic():
        host, _ = Host.objects.update_or_create(
            name=name,
            defaults={
                "queue": queue,
                "clusters": clusters,
                "slots": slots,
                "cpus": cpus,
                "mem_mb": mem_mb,
                "disk_mb": disk_mb,
                "gpus": gpus,
                "heartbeat_at": timezone.now(),
            },
        )
        for cluster in clusters:
            step_after_commit(DispatchCluster(cluster=cluster))
    return host


def host_heartbeat(*, name: str) -> bool:
    """The host's worker is alive. False when the row is gone (registered again by the caller).
    A host heard again after it fell silent is offered its clusters' queues at once, as a new one
    is."""
    now = timezone.now()
    with transaction.atomic():
        host = Host.objects.select_for_update().filter(pk=name).first()
        if host is None:
            return False
        was_silent = host.heartbeat_at < now - timedelta(seconds=conf.HOST_TIMEOUT)
        host.heartbeat_at = now
        host.save(update_fields=["heartbeat_at"])
        if was_silent:
            for cluster in host.clusters:
                step_after_commit(DispatchCluster(cluster=cluster))
    return True
