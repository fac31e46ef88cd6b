"""Three failures lock the affiliate number and the conversation for LOCK_SECONDS."""
from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.both_databases


def lock_for(api, demo, code_wrong=True, conversation="conversation-1"):
    """Three wrong codes on one challenge; returns its verification id."""
    verification_id = api.start(demo, conversation=conversation).json()["verification_id"]
    wrong = api.wrong(api.code_sent_to(demo))
    for _ in range(3):
        assert api.confirm(verification_id, wrong).status_code == 403
    return verification_id


def test_lock_covers_the_affiliate_and_the_conversation_then_ends(api, demos, clock, settings):
    demo, other = demos["cnss_ma:trader"], demos["cnss_ma:doctor"]
    verification_id = lock_for(api, demo)

    # The affiliate, from any conversation; the conversation, for any affiliate.
    for response in (api.start(demo, conversation="another-conversation"),
                     api.start(other, conversation="conversation-1"),
                     api.confirm(verification_id, api.code_sent_to(demo)),
                     api.confirm_phone(verification_id, demo.phone)):
        assert response.status_code == 423
        assert response.json() == {"detail": {"code": "locked", "retry_after": settings.LOCK_SECONDS}}
        assert response.headers["Retry-After"] == str(settings.LOCK_SECONDS)
    # Other affiliates in other conversations are not affected.
    assert api.start(other, conversation="third-conversation").status_code == 201

    clock.advance(600)
    assert api.start(demo, conversation="x").json()["detail"]["retry_after"] == settings.LOCK_SECONDS - 600
    clock.advance(settings.LOCK_SECONDS - 600 - 1)
    assert api.start(demo, conversation="x").json()["detail"]["retry_after"] == 1
    clock.advance(1)

    # Unlocked: the burnt challenge stays dead, a new one works, and the counter starts afresh.
    assert api.confirm(verification_id, api.code_sent_to(demo)).status_code == 410
    fresh = api.start(demo).json()["verification_id"]
    assert api.confirm(fresh, api.wrong(api.code_sent_to(demo))).json()["detail"]["attempts_left"] == 2
    assert api.confirm(fresh, api.code_sent_to(demo)).status_code == 200


def test_identity_mismatches_lock_too(api, demos):
    demo = demos["casnos_dz:artisan"]
    for conversation in ("a", "b", "c"):  # a new conversation each time: the number still locks
        assert api.start(demo, "1979-12-04", conversation=conversation).status_code == 403
    locked = api.start(demo, conversation="d")  # even with the right birth date
    assert locked.status_code == 423
    assert api.code_sent_to(demo) is None


def test_lock_does_not_reveal_whether_a_number_exists(api, demos):
    demo = demos["casnos_dz:artisan"]
    unknown = "999999999999"
    for number, conversation in ((demo.number, "known"), (unknown, "unknown")):
        for _ in range(3):
            refused = api.start(number, "1900-01-02", fund="casnos_dz", conversation=conversation)
            assert refused.status_code == 403
    known_locked = api.start(demo.number, "1900-01-02", fund="casnos_dz", conversation="known-2")
    unknown_locked = api.start(unknown, "1900-01-02", fund="casnos_dz", conversation="unknown-2")
    assert known_locked.status_code == unknown_locked.status_code == 423
    assert known_locked.content == unknown_locked.content


def test_one_conversation_trying_numbers_gets_locked(api, demos):
    for number in ("100000001", "100000002", "100000003"):
        assert api.start(number, "1980-01-01", fund="cnss_ma", conversation="prober").status_code == 403
    assert api.start(demos["cnss_ma:trader"], conversation="prober").status_code == 423
    assert api.start(demos["cnss_ma:trader"], conversation="honest").status_code == 201


def test_failures_of_all_kinds_add_up(api, demos):
    demo = demos["cnss_ma:taxi_driver"]
    assert api.start(demo, "1991-01-31").status_code == 403                      # birth date
    verification_id = api.start(demo).json()["verification_id"]
    assert api.confirm_phone(verification_id, "+212699999999").json()["detail"]["attempts_left"] == 1
    wrong = api.wrong(api.code_sent_to(demo))
    assert api.confirm(verification_id, wrong).json()["detail"]["attempts_left"] == 0
    assert api.start(demo).status_code == 423


def test_success_resets_the_count(api, demos):
    demo = demos["cnss_ma:farmer"]
    verification_id = api.start(demo).json()["verification_id"]
    code = api.code_sent_to(demo)
    for left in (2, 1):
        assert api.confirm(verification_id, api.wrong(code)).json()["detail"]["attempts_left"] == left
    assert api.confirm(verification_id, code).status_code == 200
    verification_id = api.start(demo).json()["verification_id"]
    wrong = api.wrong(api.code_sent_to(demo))
    assert api.confirm(verification_id, wrong).json()["detail"]["attempts_left"] == 2


def test_old_failures_stop_counting(api, demos, clock, settings):
    demo = demos["casnos_dz:trader"]
    for _ in range(2):
        assert api.start(demo, "1983-05-18").status_code == 403
    clock.advance(settings.FAILURE_WINDOW_SECONDS + 1)
    assert api.start(demo, "1983-05-18").status_code == 403  # one failure in the window, not three
    assert api.start(demo).status_code == 201


def test_lock_keys_codes_and_tokens_are_stored_only_hashed(api, app, demos):
    demo = demos["cnss_ma:artisan"]
    token = api.verify(demos["cnss_ma:doctor"], conversation="conversation-secret-42")
    lock_for(api, demo, conversation="conversation-secret-42")
    code = api.code_sent_to(demo)
    with app.state.engine.connect() as connection:
        stored = [
            repr(row) for table in ("verifications", "verification_tokens", "failed_attempts", "locks")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        ]
        assert connection.execute(text("SELECT count(*) FROM locks")).scalar() == 2
    dump = "\n".join(stored)
    for secret in (demo.number, "conversation-secret-42", code, token, demo.phone):
        assert secret not in dump
