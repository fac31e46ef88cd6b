"""Number and phone normalisation, masking, amounts, the SMS outbox."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.app.api.routes.balances import money
from backend.app.core.security import credential_is_valid, new_code
from backend.app.funds import Fund
from backend.app.identity import clean_phone, mask_number, normalize_affiliate_number, to_e164
from backend.app.sms import OutboxSmsSender, latest_code


@given(digits=st.text("0123456789", min_size=6, max_size=20),
       separators=st.lists(st.sampled_from([" ", "-", "  ", " - ", "\u00a0", "–"]), max_size=20))
def test_separators_never_change_the_number(digits, separators):
    typed = "".join(d + (separators[i] if i < len(separators) else "") for i, d in enumerate(digits))
    assert normalize_affiliate_number(typed) == digits


@pytest.mark.parametrize("typed", ["", "12345", "1" * 21, "12345a789", "１２３４５６７８９", "+123456789"])
def test_invalid_numbers_are_refused(typed):
    with pytest.raises(ValueError):
        normalize_affiliate_number(typed)


@pytest.mark.parametrize(("typed", "fund", "expected"), [
    ("+212 6 00 00 01 01", Fund.cnss_ma, "+212600000101"),
    ("00212600000101", Fund.cnss_ma, "+212600000101"),
    ("212600000101", Fund.cnss_ma, "+212600000101"),
    ("06.00.00.01.01", Fund.cnss_ma, "+212600000101"),
    ("(0)600000101", Fund.cnss_ma, "+212600000101"),
    ("0550 00 02 04", Fund.casnos_dz, "+213550000204"),
    ("+213550000204", Fund.casnos_dz, "+213550000204"),
    ("+213550000204", Fund.cnss_ma, None),      # an Algerian number for a Moroccan affiliate
    ("0600000101", Fund.casnos_dz, "+213600000101"),
    ("60000010", Fund.cnss_ma, None),
    ("+21260000010", Fund.cnss_ma, None),
])
def test_phone_forms(typed, fund, expected):
    assert to_e164(clean_phone(typed), fund) == expected


def test_mask_keeps_only_the_last_four_digits():
    assert mask_number("100204821") == "•••••4821"
    assert mask_number("161203004217") == "•••••4217"


@pytest.mark.parametrize(("cents", "text"),
                         [(0, "0.00"), (5, "0.05"), (19110, "191.10"), (3240000, "32400.00")])
def test_money(cents, text):
    assert money(cents) == text


def test_codes_are_six_digits():
    codes = {new_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 150


def test_credential_check():
    assert credential_is_valid("a", ("b", "a"))
    assert not credential_is_valid("", ("",))
    assert not credential_is_valid(None, ("a",))
    assert not credential_is_valid("a", ())


def test_outbox_returns_the_latest_code_for_a_phone(tmp_path):
    sender = OutboxSmsSender(tmp_path / "outbox")
    assert latest_code(tmp_path / "outbox", "+212600000101") is None
    sender.send("+212600000101", "code 111111")
    sender.send("+212600000102", "code 222222")
    sender.send("+212600000101", "code 333333")
    assert latest_code(tmp_path / "outbox", "+212 600 000 101") == "333333"
    assert latest_code(tmp_path / "outbox", "+212600000102") == "222222"
