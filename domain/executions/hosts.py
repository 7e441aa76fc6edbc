"""Hosts: the machines whose workers run executions, and what each offers."""

from __future__ import annotations

from django.utils import timezone

from domain.executions.models import Host


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
    """A worker on `name` starts serving `clusters`: create or refresh its row."""
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
    return host


def host_heartbeat(*, name: str) -> bool:
    """The host's worker is alive. False when the row is gone (registered again by the caller)."""
    return Host.objects.filter(pk=name).update(heartbeat_at=timezone.now()) == 1
