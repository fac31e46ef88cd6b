"""The backend, the only place every channel goes through, limits one-time codes sent: per
affiliate (nobody floods a citizen's phone) and per conversation (nobody cycles through
affiliates). The attack that found it: 10 SMS in 0.6 s through the action server."""
from __future__ import annotations

import pytest

from backend.app import retention

pytestmark = pytest.mark.both_databases


def outbox_count(api, demo) -> int:
    from backend.app.sms import outbox_messages

    return sum(1 for m in outbox_messages(api.settings.SMS_OUTBOX_DIR) if m["to"] == demo.phone)


def test_one_affiliate_gets_at_most_three_codes_per_window(api, app, demos, clock, settings):
    demo = demos["cnss_ma:trader"]
    for conversation in ("a", "b", "c"):
        assert api.start(demo, conversation=conversation).status_code == 201
        clock.advance(10)
    refused = api.start(demo, conversation="d")
    assert refused.status_code == 429
    # The first code leaves the window SMS_WINDOW_SECONDS after it was sent, 30 s ago.
    assert refused.json() == {"detail": {"code": "too_many_codes", "retry_after": settings.SMS_WINDOW_SECONDS - 30}}
    assert refused.headers["Retry-After"] == str(settings.SMS_WINDOW_SECONDS - 30)
    assert outbox_count(api, demo) == 3
    # The purge may run meanwhile: it must not reset the count.
    retention.purge_in_new_session(app.state.sessionmaker, settings, clock())
    assert api.start(demo, conversation="e").status_code == 429
    # Once the first code leaves the window, one more may be sent.
    clock.advance(settings.SMS_WINDOW_SECONDS - 30)
    assert api.start(demo, conversation="f").status_code == 201
    assert outbox_count(api, demo) == 4


def test_one_conversation_gets_at_most_three_codes_per_window(api, demos):
    affiliates = [demos[k] for k in ("cnss_ma:trader", "cnss_ma:doctor", "cnss_ma:taxi_driver")]
    for demo in affiliates:
        assert api.start(demo, conversation="cycler").status_code == 201
    other = demos["cnss_ma:farmer"]
    assert api.start(other, conversation="cycler").status_code == 429
    assert outbox_count(api, other) == 0
    # Another conversation is not affected.
    assert api.start(other, conversation="someone-else").status_code == 201


def test_a_refused_identity_sends_nothing_and_is_not_counted_as_a_code(api, demos):
    demo = demos["casnos_dz:artisan"]
    assert api.start(demo, "1979-12-04", conversation="x").status_code == 403
    for conversation in ("a", "b", "c"):
        assert api.start(demo, conversation=conversation).status_code == 201
