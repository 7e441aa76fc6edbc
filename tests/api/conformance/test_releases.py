"""The releases family's OpenAPI document tells the truth: schemathesis sends every operation
of it, with every check, to a live gunicorn on PostgreSQL, and any server error, undocumented
status code, response that breaks its schema, schema-valid request refused or hanging request
fails the test. Where the original's wire format forces something unusual (the tracker's 200
`ok: false`), the document says so; no check is switched off (tests/api/conformance/fuzzing.py).
"""

from __future__ import annotations

import pytest

from tests.api.conformance.fuzzing import answers_as_documented

pytestmark = pytest.mark.django_db(transaction=True)


# A run takes minutes on a busy machine, longer than the suite's default timeout;
# the run itself is bounded (fuzzing.fuzz).
@pytest.mark.timeout(960)
def test_every_releases_operation_answers_as_its_document_says(web, task_service, tmp_path):
    answers_as_documented("releases", web, task_service.url, tmp_path)
