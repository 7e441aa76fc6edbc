"""Fixtures of the orchestrator tests."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from domain.executions import conf
from tests.support.fake_kube import FakeKube


@pytest.fixture
def kube_cluster(tmp_path, monkeypatch) -> Iterator[FakeKube]:
    """A stand-in API server, and the executions cluster `k8s` that sends its Jobs there
    (namespace `runs`)."""
    fake = FakeKube().start()
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig")
    clusters = {"k8s": {"engine": "kubernetes", "kubeconfig": str(kubeconfig), "namespace": "runs"}}
    monkeypatch.setenv("EXECUTIONS_CLUSTERS", json.dumps(clusters))
    conf.clusters.cache_clear()
    yield fake
    conf.clusters.cache_clear()
    fake.stop()
