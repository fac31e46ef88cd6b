"""The gateway's signature over a shared Telegram contact (actions/balance/contact_proof.py)."""
from __future__ import annotations

from actions.balance import contact_proof

SECRET, CONVERSATION, PHONE, NOW = "s3cret", "tg:42", "+212600000101", 1_800_000_000


def test_a_fresh_proof_holds_for_its_conversation_and_phone_only():
    proof = contact_proof.sign(SECRET, CONVERSATION, PHONE, now=NOW)
    assert contact_proof.verify(SECRET, CONVERSATION, PHONE, proof, now=NOW + 10)
    assert not contact_proof.verify(SECRET, "tg:43", PHONE, proof, now=NOW + 10)
    assert not contact_proof.verify(SECRET, CONVERSATION, "+212600000102", proof, now=NOW + 10)
    assert not contact_proof.verify("other", CONVERSATION, PHONE, proof, now=NOW + 10)


def test_a_proof_expires_and_cannot_be_stretched():
    proof = contact_proof.sign(SECRET, CONVERSATION, PHONE, now=NOW)
    assert not contact_proof.verify(SECRET, CONVERSATION, PHONE, proof, now=NOW + contact_proof.TTL_SECONDS)
    # A signer cannot hand out proofs that live for days, even with the right key.
    long_lived = contact_proof.sign(SECRET, CONVERSATION, PHONE, now=NOW, ttl=86_400)
    assert not contact_proof.verify(SECRET, CONVERSATION, PHONE, long_lived, now=NOW)


def test_without_a_secret_or_with_garbage_nothing_is_accepted():
    proof = contact_proof.sign(SECRET, CONVERSATION, PHONE, now=NOW)
    assert not contact_proof.verify(None, CONVERSATION, PHONE, proof, now=NOW)
    assert not contact_proof.verify("", CONVERSATION, PHONE, proof, now=NOW)
    for garbage in (None, "", "v1", "v1.x.y", "v2.1800000100.ab", 12, {"mac": "x"}, "v1.1800000100"):
        assert not contact_proof.verify(SECRET, CONVERSATION, PHONE, garbage, now=NOW)
