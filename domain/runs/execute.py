"""Where a run is made (spec B.4) and where each of its attempts gets an execution.

    run_execute ─ lock the definition ─ idempotence? ─ insert Run (QUEUED)
                                                    └─ execution_create (dispatch after commit)
    retry sweep ─ NEEDS_RETRY ─ execution_for_attempt(attempt + 1) ─ QUEUED

The run row is written before its execution so that the owner hook always finds it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from domain.common.errors import InvalidInput, NotFound
from domain.executions import conf as executions_conf
from domain.executions.services import MAX_DEADLINE_SECONDS, execution_create
from domain.runs import conf
from domain.runs.clusters import cluster_resolve
from domain.runs.envs import env_as_json, env_checked, env_index, env_merge, env_pairs, reserved_env
from domain.runs.models import Definition, Run

OWNER_TYPE = "runs.run"
ENGINES = ("eks", "ecs")
NODE_LIFECYCLES = ("spot", "ondemand")


@dataclass(frozen=True)
class RunRequest:
    """What a client asked for, already decoded; None means "not given"."""

    owner: str
    token_name: str = ""
    cluster: str = ""
    env: list[tuple[str, str]] = field(default_factory=list)
    command: str | None = None
    memory: int | None = None
    cpu: int | None = None
    gpu: int | None = None
    ephemeral_storage: int | None = None
    engine: str | None = None
    node_lifecycle: str | None = None
    active_deadline_seconds: int | None = None
    description: str | None = None
    idempotence_key: str | None = None
    arch: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    service_account: str | None = None
    tier: str = ""
    run_tags: dict[str, str] = field(default_factory=dict)


def new_run_id(engine: str) -> str:
    """A uuid4 whose first characters are replaced by `<engine>-`, same length (spec B.2)."""
    text = str(uuid.uuid4())
    return f"{engine}-{text[len(engine) + 1 :]}"


def command_hash(command: str) -> str:
    """md5 of the command (spec B.4, B.11 9): no command, no hash ("")."""
    if not command:
        return ""
    return hashlib.md5(command.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def run_execute(
    *, request: RunRequest, definition_id: str | None = None, alias: str | None = None
) -> Run:
    """Make a QUEUED run of a definition (by id or alias) and its first execution. With an
    idempotence key used by a run queued in the last 7 days that has not failed, that run is
    returned instead and nothing is made."""
    engine = _engine(request.engine)
    lifecycle = _node_lifecycle(request.node_lifecycle)
    deadline = _deadline(request.active_deadline_seconds)
    with transaction.atomic():
        definition = _locked_definition(definition_id=definition_id, alias=alias)
        if request.idempotence_key:
            earlier = _idempotent_run(request.idempotence_key)
            if earlier is not None:
                return earlier
        run = _new_run(definition, request, engine=engine, lifecycle=lifecycle, deadline=deadline)
        run.save(force_insert=True)
        execution = execution_for_attempt(run=run, attempt=1)
        Run.objects.filter(pk=run.pk).update(execution_id=execution.id)
        run.execution_id = execution.id
    return run


def execution_for_attempt(*, run: Run, attempt: int):
    """A new execution of `run`, its attempt number `attempt`."""
    resources = {
        "cpus": run.cpu / 1000 if run.cpu else None,
        "mem_mb": run.memory,
        "disk_mb": run.ephemeral_storage,
        "gpus": run.gpu or 0,
    }
    return execution_create(
        owner_type=OWNER_TYPE,
        owner_id=run.run_id,
        cluster=run.cluster,
        command=run.command,
        env=env_pairs(run.env),
        image=run.image,
        resources={k: v for k, v in resources.items() if v is not None},
        deadline_seconds=run.active_deadline_seconds,
        labels={"flotilla-run-id": run.run_id},
        attempt=attempt,
    )


def _locked_definition(*, definition_id: str | None, alias: str | None) -> Definition:
    # Locked so that a concurrent delete (which refuses while runs are active) cannot remove
    # the definition between this check and the run's insert.
    rows = Definition.objects.select_for_update()
    found = (
        rows.filter(pk=definition_id).first()
        if definition_id is not None
        else rows.filter(alias=alias).first()
    )
    if found is None:
        what = f"ID {definition_id}" if definition_id is not None else f"alias {alias}"
        raise NotFound(f"Definition with {what} not found")
    return found


def _idempotent_run(key: str) -> Run | None:
    _lock_key(key)
    since = timezone.now() - timedelta(days=conf.IDEMPOTENCE_WINDOW_DAYS)
    return (
        Run.objects.filter(idempotence_key=key, queued_at__gte=since)
        .filter(Q(exit_code=0) | Q(exit_code__isnull=True))
        .order_by("-queued_at")
        .first()
    )


def _lock_key(key: str) -> None:
    """Two requests with one key must not both make a run: the second waits for the first's
    transaction. SQLite takes its write lock at BEGIN (IMMEDIATE), so it needs nothing more."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
        )


def _new_run(
    definition: Definition, request: RunRequest, *, engine: str, lifecycle: str, deadline: int
) -> Run:
    run_id = new_run_id(engine)
    command = request.command if request.command else definition.command
    memory = _amount("memory", request.memory, definition.memory)
    cpu = _amount("cpu", request.cpu, definition.cpu)
    gpu = _amount("gpu", request.gpu, definition.gpu)
    env = env_merge(
        env_pairs(definition.env),
        env_checked(request.env),
        reserved_env(run_id=run_id, owner=request.owner),
    )
    return Run(
        run_id=run_id,
        definition=definition,
        alias=definition.alias,
        group_name=definition.group_name,
        image=definition.image,
        task_type=definition.task_type,
        requires_docker=definition.requires_docker,
        command=command,
        command_hash=command_hash(command),
        cluster=cluster_resolve(
            requested=request.cluster,
            tier=request.tier,
            target_cluster=definition.target_cluster,
            gpu=gpu,
        ),
        engine=engine,
        node_lifecycle=lifecycle,
        tier=request.tier,
        arch=request.arch or "",
        service_account=request.service_account or "",
        description=request.description or "",
        idempotence_key=request.idempotence_key or "",
        labels=dict(request.labels),
        run_tags=dict(request.run_tags),
        memory=memory,
        memory_limit=memory,
        cpu=cpu,
        cpu_limit=cpu,
        gpu=gpu,
        ephemeral_storage=_amount(
            "ephemeral_storage", request.ephemeral_storage, definition.ephemeral_storage
        ),
        active_deadline_seconds=deadline,
        env=env_as_json(env),
        env_index=env_index(env),
        user=request.owner,
        token_name=request.token_name[:255],
    )


def _engine(engine: str | None) -> str:
    # `eks` and `ecs` both mean "the cluster's engine"; recorded as sent (the original coerced
    # ecs to eks). Spark (eks-spark) has no engine here.
    if engine is None or engine == "":
        return "eks"
    if engine not in ENGINES:
        raise InvalidInput(f"engine must be one of [{', '.join(ENGINES)}]")
    return engine


def _node_lifecycle(value: str | None) -> str:
    if value is None or value == "":
        return "spot"
    if value not in NODE_LIFECYCLES:
        raise InvalidInput(f"node_lifecycle must be one of [{', '.join(NODE_LIFECYCLES)}]")
    return value


def _deadline(value: int | None) -> int:
    if value is None:
        # The executions' default: 48 hours unless EXECUTIONS_DEFAULT_DEADLINE says otherwise.
        return executions_conf.DEFAULT_DEADLINE_SECONDS
    if not 0 < value <= MAX_DEADLINE_SECONDS:
        raise InvalidInput(f"active_deadline_seconds must be between 1 and {MAX_DEADLINE_SECONDS}")
    return value


def _amount(name: str, requested: int | None, default: int | None) -> int | None:
    value = requested if requested is not None else default
    if value is not None and not 0 <= value < 2**31:
        raise InvalidInput(f"{name} must be between 0 and {2**31 - 1}")
    return value
