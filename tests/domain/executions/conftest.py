"""Fixtures of the executions domain tests: a cluster the process knows, hosts that serve it,
executions owned by the test owner, and the steps their transactions schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from domain.common.steps import Step
from domain.executions import conf
from domain.executions.models import Execution, Host
from domain.executions.services import execution_create
from tests.support.executions import OWNER, clusters_known, unique_name


@pytest.fixture
def cluster() -> Iterator[str]:
    name = unique_name("alpha")
    with clusters_known(name):
        yield name


@pytest.fixture
def make_host(cluster) -> Callable[..., Host]:
    def make(
        name: str = "host-a",
        *,
        slots: int = 2,
        cpus: float = 8,
        mem_mb: int = 16000,
        gpus: int = 0,
        silent_for: float = 0,
        clusters: list[str] | None = None,
    ) -> Host:
        return Host.objects.create(
            name=name,
            queue=conf.host_queue(name),
            clusters=[cluster] if clusters is None else clusters,
            slots=slots,
            cpus=cpus,
            mem_mb=mem_mb,
            gpus=gpus,
            heartbeat_at=timezone.now() - timedelta(seconds=silent_for),
        )

    return make


@pytest.fixture
def make_execution(cluster) -> Callable[..., Execution]:
    def make(command: str = "true", **kwargs) -> Execution:
        kwargs.setdefault("owner_id", unique_name("owner"))
        kwargs.setdefault("cluster", cluster)
        kwargs.setdefault("env", [])
        return execution_create(owner_type=OWNER, command=command, **kwargs)

    return make


@pytest.fixture
def scheduled(django_capture_on_commit_callbacks) -> Callable[..., list[Step]]:
    """scheduled(fn, **kw) → the steps `fn(**kw)` scheduled for after its commit (not run)."""

    def capture(fn, **kwargs) -> list[Step]:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            fn(**kwargs)
        return [callback.args[0] for callback in callbacks]

    return capture
