from __future__ import annotations

import pytest

from domain.common.ids import CROCKFORD_ALPHABET, encode_crockford, is_kf_id, new_kf_id


def test_it_encodes_crockford_base32_left_padded():
    assert encode_crockford(0) == "00000000"
    assert encode_crockford(31) == "0000000Z"
    assert encode_crockford(32) == "00000010"
    assert encode_crockford(32**8 - 1) == "ZZZZZZZZ"


def test_the_alphabet_has_no_ambiguous_letters():
    assert len(CROCKFORD_ALPHABET) == 32
    assert not set("ILOU") & set(CROCKFORD_ALPHABET)


def test_a_new_id_is_prefix_underscore_eight_characters():
    kf_id = new_kf_id("RE")
    assert len(kf_id) == 11 and kf_id.startswith("RE_")
    assert set(kf_id[3:]) <= set(CROCKFORD_ALPHABET)
    assert is_kf_id(kf_id, "RE") and not is_kf_id(kf_id, "TA")


def test_ids_are_random_not_sequential():
    ids = {new_kf_id("TA") for _ in range(2000)}
    assert len(ids) == 2000
    # Every alphabet character turns up in the first position over 2000 draws of 40 random bits.
    assert {i[3] for i in ids} == set(CROCKFORD_ALPHABET)


@pytest.mark.parametrize("bad", ["re", "R", "RE_", "R1", ""])
def test_it_refuses_a_bad_prefix(bad):
    with pytest.raises(ValueError):
        new_kf_id(bad)


@pytest.mark.parametrize(
    "bad", [None, 5, "RE_1234567", "RE_ILOU1234", "re_12345678", "RE-12345678"]
)
def test_is_kf_id_rejects_malformed_values(bad):
    assert not is_kf_id(bad)
