"""Every canvas has an error path: a step that fails in a real worker leaves an error event
saying which step failed and why (the reconciler stays the safety net).

The steps are scheduled the way a domain transition schedules them (domain/common/steps.py),
for a release that vanished while its step was queued (as an operator's cleanup would do).
"""

from __future__ import annotations

import pytest

from domain.common.steps import step_run
from domain.releases.models import Event
from domain.releases.steps import CancelRelease, CheckRelease
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

GONE = "RE_GONE0000"


def _error_event(step: str) -> Event | None:
    prefix = f"step {step} of release {GONE} failed: NotFound"
    return Event.objects.filter(event_type="error", message__startswith=prefix).first()


def test_it_records_why_a_single_message_step_failed(live_worker):
    step_run(CheckRelease(release_id=GONE))
    event = wait_until(lambda: _error_event("check"), timeout=30, message="the error event")
    assert event.release_id is None  # the release is gone; the event still says which it was


def test_it_records_why_the_callback_of_a_chord_failed(live_worker):
    # The header tells no service (the task is gone too); the callback finds no release.
    step_run(CancelRelease(release_id=GONE, task_ids=("TA_GONE0000",)))
    event = wait_until(lambda: _error_event("cancel"), timeout=30, message="the error event")
    assert "Not found." in event.message
