"""Pure rules of the releases domain: versions, progress parsing, state names."""

from __future__ import annotations

import pytest

from domain.releases import versions
from domain.releases.errors import FieldErrors
from domain.releases.reports import progress_parse, state_parse


def test_version_steps():
    assert versions.next_patch("0.0.0") == "0.0.1"
    assert versions.next_minor("0.0.0") == "0.1.0"
    assert versions.next_minor("0.1.1") == "0.2.0"
    assert versions.next_major("0.1.1") == "1.0.0"
    assert versions.published_version("2.3.4", is_major=True) == "3.0.0"
    assert versions.published_version("2.3.4", is_major=False) == "2.4.0"


@pytest.mark.parametrize(
    ("raw", "value"), [(50, 50), ("50", 50), ("50%", 50), (" 7 % ", 7), (None, None), (100.0, 100)]
)
def test_progress_accepts_numbers_and_percent_strings(raw, value):
    assert progress_parse(raw) == value


@pytest.mark.parametrize("raw", ["abc", True, 101, -1, [5], 5.5, "5.5%"])
def test_progress_rejects_everything_else(raw):
    with pytest.raises(FieldErrors):
        progress_parse(raw)


def test_pending_means_initialized_and_unknown_states_are_refused():
    assert state_parse("pending") == "initialized"
    assert state_parse("Staged") == "staged"
    with pytest.raises(FieldErrors):
        state_parse("done")
