"""Registering a task service under the outbound policy (issue 7, item 6): Mallory, a developer,
tries to make Regatta's web process reach hosts it must not, or hold it with a slow answer.

Addresses outside loopback are only ever given as literals and refused before any connect: these
tests send no traffic beyond 127.0.0.1.
"""

from __future__ import annotations

import logging

import pytest

from domain.releases.models import TaskService
from orchestrator.clients.task_service import NOT_ANSWERED

pytestmark = pytest.mark.django_db

NO_QUERY = "Enter a URL without a query, a fragment or user info."


def _register(mallory, url: str):
    return mallory.post("/task-services", {"name": "S", "author": "mallory", "url": url})


def _refused_generically(resp) -> None:
    assert resp.status_code == 400, resp.content
    assert resp.json() == {"url": [NOT_ANSWERED]}
    assert not TaskService.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.0.0.1/",  # private
        "http://192.168.1.1:8080",  # private
        "http://100.64.0.1/",  # shared address space (carrier NAT)
        "http://0.0.0.0:8000",  # unspecified
        "http://224.0.0.1/",  # multicast
        "http://240.0.0.1/",  # reserved
        "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
        "http://[::ffff:10.0.0.1]/",  # IPv4-mapped IPv6
        "http://[fe80::1]/",  # IPv6 link-local
        "http://[fd00::1]/",  # IPv6 unique local
        "http://[::]/",  # IPv6 unspecified
        "http://[ff02::1]/",  # IPv6 multicast
    ],
)
def test_it_refuses_internal_addresses_before_connecting(dev, url, caplog):
    with caplog.at_level(logging.WARNING, logger="orchestrator.clients.task_service"):
        resp = _register(dev, url)
    _refused_generically(resp)
    # The address policy refused it (not a failed connect): the detail is in the log only.
    assert "none public nor in OUTBOUND_ALLOWED_NETWORKS" in caplog.text


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_it_refuses_loopback_once_the_allow_list_is_removed(dev, settings, internal, host):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    resp = _register(dev, internal.url.replace("127.0.0.1", host))
    _refused_generically(resp)
    assert not internal.calls


def test_it_does_not_follow_a_redirect_to_an_internal_host(dev, hostile, internal):
    redirector = hostile("redirect", location=f"{internal.url}/status")
    resp = _register(dev, redirector.url)
    _refused_generically(resp)
    assert redirector.requests == ["GET /status HTTP/1.1"]
    assert not internal.calls


def test_a_slow_dripping_service_cannot_hold_the_web_worker_past_the_deadline(dev, hostile):
    # Every byte comes well within the 1 s OUTBOUND_TIMEOUT, the whole answer only after ~8 s.
    drip = hostile("drip")
    resp = _register(dev, drip.url)
    _refused_generically(resp)
    assert drip.requests == ["GET /status HTTP/1.1"]


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_huge_answer_is_not_read_past_the_cap(dev, hostile, declare_length):
    huge = hostile("huge", declare_length=declare_length)
    _refused_generically(_register(dev, huge.url))


@pytest.mark.parametrize("suffix", ["/?next=", "?x=1", "/#", "/#/anything", "/?", "/#frag?x"])
def test_it_refuses_a_url_with_a_query_or_fragment_without_calling_it(dev, internal, suffix):
    resp = _register(dev, internal.url + suffix)
    assert resp.status_code == 400
    assert resp.json() == {"url": [NO_QUERY]}
    assert not internal.calls


def test_it_refuses_a_url_with_user_info_without_calling_it(dev, internal):
    resp = _register(dev, internal.url.replace("http://", "http://mallory:pw@"))
    assert resp.json() == {"url": [NO_QUERY]}
    assert not internal.calls


def test_a_url_change_to_a_redirecting_host_is_refused_too(dev, hostile, internal):
    created = _register(dev, internal.url).json()
    redirector = hostile("redirect", location=f"{internal.url}/status")
    internal.calls.clear()
    resp = dev.patch(f"/task-services/{created['kf_id']}", {"url": redirector.url})
    assert resp.json() == {"url": [NOT_ANSWERED]}
    assert not internal.calls
    assert TaskService.objects.get(pk=created["kf_id"]).url == internal.url


def test_the_failure_detail_goes_to_the_log_not_to_the_caller(dev, internal, caplog):
    internal.stop()  # connection refused: the detail an attacker would use to map ports
    with caplog.at_level(logging.WARNING, logger="orchestrator.clients.task_service"):
        resp = _register(dev, internal.url)
    _refused_generically(resp)
    assert "ConnectionError" in caplog.text and internal.url in caplog.text
