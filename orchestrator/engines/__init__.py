"""Execution engines, chosen per cluster (`EXECUTIONS_CLUSTERS`, domain/executions/conf.py).

`host_engine(name)` for engines whose commands run on this host under a supervisor (local,
docker); `remote_engine(name)` for engines that hand them to a scheduler elsewhere (kubernetes).
"""

from __future__ import annotations

import importlib
from functools import cache, partial

from domain.executions import conf
from domain.executions.launches import LaunchOrder
from domain.executions.owners import workdir_hooks
from orchestrator.engines.base import HostEngine, LaunchSpec, RemoteEngine

_ENGINES = {
    "local": "orchestrator.engines.local:LocalEngine",
    "docker": "orchestrator.engines.docker:DockerEngine",
    "kubernetes": "orchestrator.engines.kubernetes:KubernetesEngine",
}


@cache
def engine_named(name: str) -> HostEngine | RemoteEngine:
    module, _, cls = _ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def is_host_engine(name: str) -> bool:
    return name in conf.HOST_ENGINES


def launch_spec(order: LaunchOrder) -> LaunchSpec:
    """What the engine is told: the order plus its cluster's engine options."""
    resources = order.resources or {}
    options = {k: v for k, v in conf.clusters().get(order.cluster, {}).items() if k != "engine"}
    hooks = workdir_hooks(order.owner_type)
    return LaunchSpec(
        prepare=partial(hooks.prepare, order.execution_id) if hooks else None,
        collect=partial(hooks.collect, order.execution_id) if hooks else None,
        workdir_writable=hooks.writable if hooks else (),
        execution_id=order.execution_id,
        command=order.command,
        env=list(order.env),
        image=order.image,
        cpus=_positive(resources.get("cpus"), float),
        mem_mb=_positive(resources.get("mem_mb"), int),
        disk_mb=_positive(resources.get("disk_mb"), int),
        gpus=int(resources.get("gpus") or 0),
        deadline_seconds=order.deadline_seconds,
        labels={str(k): str(v) for k, v in (order.labels or {}).items()},
        options=options,
        mounts=order.mounts,
        stages_files=order.stages_files,
        separate_stderr=hooks.separate_stderr if hooks else False,
        output_env=hooks.output_env if hooks else "",
        secret_env=(
            partial(hooks.secret_env, order.execution_id) if hooks and hooks.secret_env else None
        ),
    )


def _positive(value, kind):
    if isinstance(value, int | float) and value > 0:
        return kind(value)
    return None
