"""A real worker process runs a chord and a chain against Redis and PostgreSQL."""

from __future__ import annotations

import secrets

import pytest

from domain.common.models import SelfCheck
from orchestrator.lifecycles.selfcheck import start_selfcheck_chain, start_selfcheck_chord
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _row_total(nonce: str):
    row = SelfCheck.objects.filter(nonce=nonce).first()
    return row and row.total


def test_it_runs_a_chord_whose_callback_writes_a_row(live_worker):
    nonce = secrets.token_hex(8)
    start_selfcheck_chord(nonce=nonce, values=[1, 2, 3, 4, 5])
    assert wait_until(lambda: _row_total(nonce), timeout=30, message="chord callback row") == 15


def test_it_runs_a_chain_in_order(live_worker):
    nonce = secrets.token_hex(8)
    start_selfcheck_chain(nonce=nonce, start=2, addends=[3, 5])
    assert wait_until(lambda: _row_total(nonce), timeout=30, message="chain row") == 10


def test_a_redelivered_callback_does_not_write_twice(live_worker):
    from orchestrator.tasks.common import record_selfcheck

    nonce = secrets.token_hex(8)
    first = record_selfcheck.delay(7, nonce=nonce)
    second = record_selfcheck.delay(7, nonce=nonce)
    assert first.get(timeout=30) == 7 and second.get(timeout=30) == 7
    assert SelfCheck.objects.filter(nonce=nonce).count() == 1


def test_the_selfcheck_command_sends_its_canvases_through_the_domain_steps(live_worker):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("selfcheck", timeout=30, stdout=out)
    assert "selfcheck ok" in out.getvalue()
