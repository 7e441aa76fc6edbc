"""Hosts come and go: one that (re)appears is offered what waits in its clusters."""

from __future__ import annotations

import pytest

from domain.executions import conf
from domain.executions.hosts import host_heartbeat, host_register
from domain.executions.models import Host
from domain.executions.steps import DispatchCluster

pytestmark = pytest.mark.django_db


def _register(name: str = "box-1", clusters=("alpha", "beta")) -> None:
    host_register(
        name=name,
        queue=conf.host_queue(name),
        clusters=list(clusters),
        slots=4,
        cpus=2.0,
        mem_mb=1024,
        disk_mb=10,
    )


def test_a_registering_host_is_offered_its_clusters_queues(scheduled):
    steps = scheduled(_register)

    assert steps == [DispatchCluster(cluster="alpha"), DispatchCluster(cluster="beta")]
    host = Host.objects.get(pk="box-1")
    assert (host.queue, host.slots, host.clusters) == (
        "executions.host.box-1",
        4,
        ["alpha", "beta"],
    )


def test_registering_again_refreshes_what_it_offers(scheduled):
    _register()
    scheduled(_register, clusters=["gamma"])
    assert Host.objects.get(pk="box-1").clusters == ["gamma"]
    assert Host.objects.filter(pk="box-1").count() == 1


def test_a_heartbeat_dispatches_only_when_the_host_was_silent(make_host, cluster, scheduled):
    make_host("box-2")
    assert scheduled(host_heartbeat, name="box-2") == []

    make_host("box-3", silent_for=conf.HOST_TIMEOUT + 5)
    assert scheduled(host_heartbeat, name="box-3") == [DispatchCluster(cluster=cluster)]


def test_a_heartbeat_of_a_forgotten_host_asks_to_register_again():
    assert host_heartbeat(name="never-registered") is False
    assert not Host.objects.filter(pk="never-registered").exists()
