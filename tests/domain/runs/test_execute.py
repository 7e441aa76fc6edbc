"""Making a run (spec B.4, B.5): ids, command hash, env precedence, cluster choice,
idempotence, and refusals that leave nothing written."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

from domain.common.errors import InvalidInput, NotFound
from domain.executions import conf as executions_conf
from domain.executions.models import Execution
from domain.runs.clusters import cluster_create
from domain.runs.definitions import definition_create
from domain.runs.execute import RunRequest, command_hash, run_execute
from domain.runs.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def hello(db):
    return definition_create(
        group_name="testing",
        alias="hello",
        image="ubuntu",
        command="echo hi",
        memory=512,
        cpu=500,
        env=[("GREETING", "hi"), ("SHARED", "from-definition"), ("FLOTILLA_RUN_ID", "forged")],
    )


@pytest.fixture
def clusters(monkeypatch):
    """Three clusters this deployment can run on."""
    spec = (
        '{"default": {"engine": "local"}, "gpu": {"engine": "local"}, "blue": {"engine": "local"}}'
    )
    monkeypatch.setenv("EXECUTIONS_CLUSTERS", spec)
    executions_conf.clusters.cache_clear()
    yield
    executions_conf.clusters.cache_clear()


def execute(definition, **fields) -> Run:
    fields.setdefault("owner", "alice")
    return run_execute(request=RunRequest(**fields), definition_id=definition.pk)


def env_of(run: Run) -> dict[str, str]:
    return {item["name"]: item["value"] for item in run.env}


def test_it_queues_a_run_with_an_engine_prefixed_id_and_its_first_execution(hello):
    run = execute(hello)
    assert re.fullmatch(
        r"eks-[0-9a-f]{4}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", run.pk
    )
    assert len(run.pk) == 36
    assert (run.status, run.user, run.cluster, run.engine) == ("QUEUED", "alice", "default", "eks")
    assert run.queued_at is not None
    execution = Execution.objects.get(pk=run.execution_id)
    assert (execution.owner_type, execution.owner_id, execution.attempt) == ("runs.run", run.pk, 1)
    assert execution.command == "echo hi"
    assert execution.resources == {"cpus": 0.5, "mem_mb": 512, "gpus": 0}


def test_it_records_ecs_as_sent(hello):
    run = execute(hello, engine="ecs")
    assert run.engine == "ecs"
    assert run.pk.startswith("ecs-")


def test_env_precedence_is_definition_then_request_then_reserved(hello):
    run = execute(hello, env=[("SHARED", "from-request"), ("K1", "V1"), ("$ SPACED ", "x")])
    env = env_of(run)
    assert env["GREETING"] == "hi"
    assert env["SHARED"] == "from-request"
    assert env["K1"] == "V1"
    assert env["SPACED"] == "x"
    # Reserved variables win over a definition's or a request's.
    assert env["FLOTILLA_RUN_ID"] == run.pk
    assert env["AWS_ROLE_SESSION_NAME"] == run.pk
    assert env["FLOTILLA_RUN_OWNER_ID"] == "alice"
    assert env["FLOTILLA_SERVER_MODE"] == "prod"
    names = [item["name"] for item in run.env]
    assert len(names) == len(set(names))
    assert Execution.objects.get(pk=run.execution_id).env == [
        [item["name"], item["value"]] for item in run.env
    ]


def test_request_values_override_the_definitions(hello):
    run = execute(hello, command="echo bye", memory=1024, cpu=2000, gpu=0, service_account="sa")
    assert (run.command, run.memory, run.cpu, run.service_account) == ("echo bye", 1024, 2000, "sa")
    assert run.command_hash == hashlib.md5(b"echo bye", usedforsecurity=False).hexdigest()


def test_command_hash_is_the_md5_of_the_command_whatever_the_description():
    assert command_hash("echo a") != command_hash("echo b")
    assert command_hash("echo a") == hashlib.md5(b"echo a", usedforsecurity=False).hexdigest()
    assert command_hash("") == ""


def test_the_same_command_hashes_the_same_across_runs(hello):
    assert execute(hello, description="x").command_hash == execute(hello).command_hash


@pytest.mark.parametrize(
    "fields",
    [
        {"node_lifecycle": "normal"},
        {"engine": "eks-spark"},
        {"active_deadline_seconds": 0},
        {"memory": -1},
        {"cluster": "nowhere"},
        {"env": [("A=B", "x")]},
        {"env": [("A", "nul\x00")]},
    ],
)
def test_it_refuses_bad_requests_and_writes_nothing(hello, fields):
    with pytest.raises(InvalidInput):
        execute(hello, **fields)
    assert not Run.objects.exists()
    assert not Execution.objects.exists()


def test_an_unknown_definition_or_alias_is_not_found(db):
    with pytest.raises(NotFound):
        run_execute(request=RunRequest(owner="a"), definition_id="nope")
    with pytest.raises(NotFound):
        run_execute(request=RunRequest(owner="a"), alias="nope")


def test_it_executes_by_alias(hello):
    run = run_execute(request=RunRequest(owner="bob"), alias="hello")
    assert run.definition_id == hello.pk


def test_an_idempotence_key_returns_the_earlier_run_within_seven_days(hello):
    first = execute(hello, idempotence_key="nightly-2024-01-01")
    again = execute(hello, idempotence_key="nightly-2024-01-01")
    assert again.pk == first.pk
    assert Run.objects.count() == 1
    assert Execution.objects.count() == 1


def test_an_idempotence_key_of_a_failed_or_old_run_makes_a_new_one(hello):
    failed = execute(hello, idempotence_key="k")
    Run.objects.filter(pk=failed.pk).update(status="STOPPED", exit_code=2)
    retried = execute(hello, idempotence_key="k")
    assert retried.pk != failed.pk
    Run.objects.filter(pk=retried.pk).update(queued_at=retried.queued_at - timedelta(days=8))
    assert execute(hello, idempotence_key="k").pk not in (failed.pk, retried.pk)


def test_cluster_choice_follows_the_original_order(hello, clusters):
    assert execute(hello, cluster="blue").cluster == "blue"
    assert execute(hello, gpu=1).cluster == "default"  # RUNS_GPU_CLUSTER defaults to default
    hello.target_cluster = "gpu"
    hello.save()
    assert execute(hello).cluster == "gpu"


def test_tier_picks_only_active_clusters_that_allow_it(hello, clusters):
    cluster_create(name="blue", allowed_tiers=["Tier1"])
    cluster_create(name="gpu", allowed_tiers=["Tier2"], status="maintenance")
    assert {execute(hello, tier="Tier1").cluster for _ in range(5)} == {"blue"}
    # No active cluster allows Tier2: the default applies.
    assert execute(hello, tier="Tier2").cluster == "default"
