"""Every outbound client under one policy (issue 7, item 6): task services (what a batch thread
runs), the dataservice and the OIDC JWKS fetch, each against hostile servers on 127.0.0.1.

Addresses outside loopback are only ever given as literals and refused before any connect.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from domain.common import jwks
from domain.common.outbound import address_allowed
from orchestrator.clients import dataservice
from orchestrator.clients.task_service import PermanentError, check_health, send_action
from orchestrator.taskkit import TransientError

LOOPBACK = [ip_network("127.0.0.0/8"), ip_network("::1/128")]


@pytest.mark.parametrize(
    ("address", "allowed", "expected"),
    [
        ("93.184.215.14", [], True),
        ("2606:4700::1111", [], True),
        ("::ffff:93.184.215.14", [], True),  # the public IPv4 address it carries
        ("127.0.0.1", [], False),
        ("::1", [], False),
        ("169.254.169.254", [], False),
        ("::ffff:169.254.169.254", [], False),
        ("10.1.2.3", [], False),
        ("172.16.0.1", [], False),
        ("192.168.0.1", [], False),
        ("100.64.0.1", [], False),
        ("0.0.0.0", [], False),
        ("::", [], False),
        ("224.0.0.251", [], False),
        ("239.255.255.250", [], False),
        ("ff02::1", [], False),
        ("fe80::1", [], False),
        ("fc00::1", [], False),
        ("240.0.0.1", [], False),
        ("255.255.255.255", [], False),
        ("127.0.0.1", LOOPBACK, True),
        ("::ffff:127.0.0.1", LOOPBACK, True),
        ("::1", LOOPBACK, True),
        ("10.1.2.3", LOOPBACK, False),
        ("10.1.2.3", [ip_network("10.1.0.0/16")], True),
    ],
)
def test_it_allows_only_public_unicast_addresses_and_the_allow_list(address, allowed, expected):
    assert address_allowed(ip_address(address), allowed=allowed) is expected


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    jwks.clear_cache()
    yield
    jwks.clear_cache()


def _start(url: str) -> dict:
    return send_action(base_url=url, token="t0k", action="start", task_id="TA_1", release_id="RE_1")


def test_a_batch_thread_is_not_held_by_a_dripping_service_past_the_deadline(hostile):
    drip = hostile("drip")
    with pytest.raises(TransientError, match="ReadTimeout: no complete answer within 1 s"):
        _start(drip.url)
    assert drip.requests == ["POST /tasks HTTP/1.1"]


def test_a_task_service_redirect_is_a_permanent_failure_and_is_not_followed(hostile, internal):
    redirector = hostile("redirect", location=f"{internal.url}/tasks")
    with pytest.raises(PermanentError, match="302"):
        _start(redirector.url)
    assert check_health(base_url=redirector.url, token="t0k") is False
    assert not internal.calls  # the outbound token never reached the redirect's target


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_huge_task_service_answer_is_a_permanent_failure(hostile, declare_length):
    huge = hostile("huge", declare_length=declare_length)
    with pytest.raises(PermanentError, match="larger than 1048576 bytes"):
        _start(huge.url)


def test_a_cap_setting_lets_a_bigger_answer_through(settings, hostile):
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
    settings.OUTBOUND_TIMEOUT = 30  # 2 MiB must not miss the suite's 1 s on a busy machine
    huge = hostile("huge", declare_length=False, size=2 * 1024 * 1024)
    assert _start(huge.url)["name"] == "huge"


@pytest.mark.parametrize("url", ["http://169.254.169.254", "http://[::ffff:10.0.0.1]:8080"])
def test_task_service_calls_to_internal_addresses_are_refused(url):
    with pytest.raises(PermanentError, match="not allowed"):
        _start(url)
    assert check_health(base_url=url, token="t0k") is False


def test_a_kept_alive_connection_follows_a_narrowed_allow_list(settings, internal):
    internal.states["TA_1"] = "running"
    assert _start(internal.url)["state"] == "running"
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(PermanentError, match="not allowed"):
        _start(internal.url)
    assert len(internal.actions("start")) == 1


def _studies(url: str) -> list:
    return dataservice.fetch_studies(url)


@pytest.mark.parametrize("mode", ["drip", "redirect", "huge"])
def test_the_dataservice_client_is_under_the_same_policy(hostile, internal, mode):
    server = hostile(mode, location=f"{internal.url}/studies")
    with pytest.raises(dataservice.DataserviceError) as caught:
        _studies(server.url)
    assert caught.value.status == 502
    assert not internal.calls


def test_the_dataservice_client_refuses_internal_addresses():
    with pytest.raises(dataservice.DataserviceError, match="not allowed"):
        _studies("http://10.0.0.1")


@pytest.mark.parametrize("mode", ["drip", "redirect", "huge"])
def test_the_jwks_fetch_is_under_the_same_policy(hostile, internal, mode, caplog):
    server = hostile(mode, location=f"{internal.url}/status")
    assert jwks.signing_key(f"{server.url}/jwks.json", "k1", max_age=60) is None
    assert "JWKS fetch" in caplog.text
    assert not internal.calls


def test_the_jwks_fetch_refuses_internal_addresses(caplog):
    assert jwks.signing_key("http://169.254.169.254/jwks", "k1", max_age=60) is None
    assert "none public nor in OUTBOUND_ALLOWED_NETWORKS" in caplog.text
