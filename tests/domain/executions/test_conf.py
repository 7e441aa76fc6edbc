"""`EXECUTIONS_CLUSTERS`: which engine runs each cluster, refused whole when it makes no sense."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from domain.executions import conf


@pytest.fixture
def setting(monkeypatch) -> Iterator:
    def set_to(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("EXECUTIONS_CLUSTERS", raising=False)
        else:
            monkeypatch.setenv("EXECUTIONS_CLUSTERS", value)
        conf.clusters.cache_clear()

    yield set_to
    monkeypatch.undo()
    conf.clusters.cache_clear()


def test_without_the_setting_the_default_cluster_runs_locally(setting):
    for unset in (None, "", "   "):
        setting(unset)
        assert conf.clusters() == {"default": {"engine": "local"}}
        assert conf.cluster_engine("default") == "local"


def test_it_reads_each_cluster_with_its_engine_options(setting):
    setting('{"default": {"engine": "local"}, "gpu": {"engine": "docker", "network": "none"}}')
    assert conf.cluster_names() == ["default", "gpu"]
    assert conf.cluster_engine("gpu") == "docker"
    assert conf.clusters()["gpu"]["network"] == "none"


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        "[]",
        '"local"',
        "{}",
        "null",
        '{"a": "local"}',
        '{"a": {}}',
        '{"a": {"engine": "ecs"}}',
        '{"a": {"engine": null}}',
        '{"a": {"engine": ["local"]}}',
        '{"a": {"engine": "local"}, "b": {"engine": "LOCAL"}}',
    ],
)
def test_a_setting_that_makes_no_sense_is_refused_at_start(setting, bad):
    setting(bad)
    with pytest.raises(ImproperlyConfigured) as err:
        conf.clusters()
    assert "EXECUTIONS_CLUSTERS" in str(err.value)


def test_a_host_queue_is_named_after_its_host_and_remote_ones_share_one():
    assert conf.host_queue("box-1") == "executions.host.box-1"
    assert conf.launch_queue("box-1") == "executions.host.box-1"
    assert conf.launch_queue(conf.REMOTE_HOST) == conf.REMOTE_QUEUE == "executions"
