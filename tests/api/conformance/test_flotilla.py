"""The flotilla family's OpenAPI document tells the truth (see fuzzing.py)."""

from __future__ import annotations

import pytest

from tests.api.conformance.fuzzing import CONFORMANCE_MARKS, answers_as_documented

pytestmark = [*CONFORMANCE_MARKS, pytest.mark.long(5.5)]


def test_every_flotilla_operation_answers_as_its_document_says(
    flotilla_web, task_service, tmp_path
):
    answers_as_documented("flotilla", flotilla_web, task_service.url, tmp_path)
