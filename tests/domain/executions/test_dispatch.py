"""Queued executions meet free slots: how many, which first, and where."""

from __future__ import annotations

import threading

import pytest

from domain.executions import conf
from domain.executions.dispatch import execution_dispatch
from domain.executions.launches import execution_end
from domain.executions.models import Execution, ExecutionState, Host, Outcome
from domain.executions.steps import LaunchExecution
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db


def _states(*executions: Execution) -> list[tuple[str, str]]:
    rows = {e.pk: e for e in Execution.objects.filter(pk__in=[x.pk for x in executions])}
    return [(rows[e.pk].state, rows[e.pk].host) for e in executions]


def test_it_hands_out_no_more_than_the_host_has_slots(make_host, make_execution, scheduled):
    make_host(slots=2)
    queued = [make_execution(f"echo {i}") for i in range(5)]

    steps = scheduled(execution_dispatch, cluster=queued[0].cluster)

    assert _states(*queued) == [("PENDING", "host-a")] * 2 + [("QUEUED", "")] * 3
    assert steps == [
        LaunchExecution(execution_id=e.id, queue=conf.host_queue("host-a")) for e in queued[:2]
    ]
    # The host is full now: a second dispatch hands out nothing and sends nothing.
    assert scheduled(execution_dispatch, cluster=queued[0].cluster) == []
    assert _states(*queued)[2:] == [("QUEUED", "")] * 3


def test_an_end_frees_its_slot_for_the_next_in_line(make_host, make_execution):
    make_host(slots=1)
    first, second = make_execution(), make_execution()
    execution_dispatch(cluster=first.cluster)
    execution_end(execution_id=first.id, outcome=Outcome.STOPPED, exit_code=None, reason="x")

    assert execution_dispatch(cluster=first.cluster) == 1
    assert _states(second) == [("PENDING", "host-a")]


def test_it_takes_priority_first_then_queue_order(make_host, make_execution):
    make_host(slots=3)
    early = make_execution("echo early")
    late = make_execution("echo late")
    urgent = make_execution("echo urgent", priority=10)
    latest = make_execution("echo latest")

    execution_dispatch(cluster=early.cluster)

    assert _states(urgent, early, late, latest) == [("PENDING", "host-a")] * 3 + [("QUEUED", "")]


def test_a_big_execution_never_blocks_smaller_ones_behind_it(make_host, make_execution):
    make_host(slots=4, cpus=4, mem_mb=1000, gpus=0)
    too_many_cpus = make_execution(resources={"cpus": 8})
    too_much_memory = make_execution(resources={"mem_mb": 4000})
    wants_a_gpu = make_execution(resources={"gpus": 1})
    small = make_execution(resources={"cpus": 1, "mem_mb": 100})
    second_small = make_execution(resources={"cpus": 3, "mem_mb": 900})
    third_small = make_execution(resources={"cpus": 1})

    execution_dispatch(cluster=small.cluster)

    # The two small ones fit; the third would need a fifth CPU and waits for one.
    assert _states(small, second_small) == [("PENDING", "host-a")] * 2
    assert _states(too_many_cpus, too_much_memory, wants_a_gpu, third_small) == [("QUEUED", "")] * 4


def test_the_next_host_takes_what_the_first_cannot(make_host, make_execution):
    make_host("host-a", slots=1)
    make_host("host-b", slots=1)
    first, second, third = make_execution(), make_execution(), make_execution()

    assert execution_dispatch(cluster=first.cluster) == 2
    assert sorted(_states(first, second)) == [("PENDING", "host-a"), ("PENDING", "host-b")]
    assert _states(third) == [("QUEUED", "")]


def test_a_silent_host_gets_nothing(make_host, make_execution):
    make_host("host-gone", slots=8, silent_for=conf.HOST_TIMEOUT + 5)
    execution = make_execution()

    assert execution_dispatch(cluster=execution.cluster) == 0
    assert _states(execution) == [("QUEUED", "")]


def test_a_host_of_other_clusters_gets_nothing(make_host, make_execution):
    make_host("host-elsewhere", slots=8, clusters=["some-other-cluster"])
    execution = make_execution()

    assert execution_dispatch(cluster=execution.cluster) == 0
    assert _states(execution) == [("QUEUED", "")]


def test_an_unknown_cluster_dispatches_nothing(make_host, make_execution):
    make_host(slots=1)
    make_execution()
    assert execution_dispatch(cluster="no-such-cluster") == 0
    assert Execution.objects.filter(state=ExecutionState.PENDING).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_dispatch_meeting_another_on_the_same_host_waits_instead_of_skipping(
    make_host, make_execution, no_dispatch_messages
):
    # Dispatcher one holds host-a's lock and has read the queue already; Bob's execution is
    # committed after that read. Dispatcher two, sent for Bob's execution, must not skip the
    # busy host: it would leave Bob queued beside a free slot.
    from django.db import connection, transaction

    # Bob's committed execution sends no dispatch message of its own (no_dispatch_messages): a
    # worker of this session would be a third dispatcher, and could take Bob before dispatcher two.
    make_host(slots=2)
    holding, release = threading.Event(), threading.Event()

    def dispatcher_one() -> None:
        try:
            with transaction.atomic():
                Host.objects.select_for_update().get(pk="host-a")
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    def dispatcher_two(results: list[int]) -> None:
        try:
            results.append(execution_dispatch(cluster=bob.cluster))
        finally:
            connection.close()

    one = threading.Thread(target=dispatcher_one)
    one.start()
    assert holding.wait(30)
    bob = make_execution("echo bob")
    results: list[int] = []
    two = threading.Thread(target=dispatcher_two, args=(results,))
    two.start()
    # Let dispatcher one go only once two has either given up or is waiting for the lock.
    wait_until(lambda: not two.is_alive() or _waiting_for_a_lock(), message="dispatcher two")
    release.set()
    one.join(30)
    two.join(30)

    assert results == [1]
    assert _states(bob) == [("PENDING", "host-a")]


def _waiting_for_a_lock() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_a_dispatcher_that_does_not_know_the_cluster_goes_by_the_hosts(make_host, make_execution):
    # The web knows a new cluster; this worker's settings do not yet (a rolling deploy).
    from domain.executions import conf

    make_host(slots=1)
    execution = make_execution()
    knows_the_cluster = conf.clusters
    conf.clusters = lambda: dict(conf.DEFAULT_CLUSTERS)
    try:
        assert execution.cluster not in conf.clusters()
        assert execution_dispatch(cluster=execution.cluster) == 1
    finally:
        conf.clusters = knows_the_cluster
    assert _states(execution) == [("PENDING", "host-a")]
