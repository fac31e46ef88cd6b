"""The affiliate API client turns every answer into an outcome the balance form can say."""
from __future__ import annotations

from actions.balance.client import AffiliateApi


def test_too_many_codes_is_told_like_a_lock_with_its_wait():
    outcome = AffiliateApi._outcome(429, {"detail": {"code": "too_many_codes", "retry_after": 840}})
    assert outcome.kind == "locked" and outcome.data["retry_after"] == 840


def test_a_lock_keeps_its_wait_and_a_server_error_is_unavailable():
    assert AffiliateApi._outcome(423, {"detail": {"code": "locked", "retry_after": 60}}).data["retry_after"] == 60
    assert AffiliateApi._outcome(500, {}).kind == "unavailable"
