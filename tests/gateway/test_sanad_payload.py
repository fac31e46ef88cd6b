"""The `custom.sanad` block as the gateway parses it follows docs/sanad-payload.schema.json (the
actions' side: tests/rasa_side/test_sanad_payload.py): the stand-ins the gateway's tests use, and
turns of the trained assistant through the real client."""
from __future__ import annotations

import json

import jsonschema_rs  # the API environment's JSON Schema validator (schemathesis uses it)
import pytest

from gateway.app.rasa_client import RasaClient, parse_replies
from tests.gateway.conftest import REPO
from tests.gateway.stubs import clarify, faq_answer

SCHEMA = json.loads((REPO / "docs" / "sanad-payload.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema_rs.Draft7Validator(SCHEMA)


def assert_valid(block: dict) -> None:
    errors = [f"{list(error.instance_path)}: {error.message}" for error in VALIDATOR.iter_errors(block)]
    assert not errors, errors


@pytest.mark.parametrize("replies", [faq_answer("fr"), faq_answer("ar"), clarify("fr")])
def test_the_stand_ins_turns_follow_the_contract(replies):
    assert_valid(parse_replies(replies).sanad)


def test_the_contract_refuses_a_block_the_gateway_could_not_read():
    good = parse_replies(faq_answer("fr")).sanad
    for broken in ({**good, "decision": "answer_maybe"}, {**good, "sources": "none"}, {**good, "lang": "de"},
                   {**good, "step": "password"}, {**good, "unknown_key": True}):
        assert not VALIDATOR.is_valid(broken), broken


# Messages the trained assistant answers with each kind of decision (the clarification comes from
# the session's probe, as the channels' own clarification tests take it).
REAL_TURNS = ("comment payer mes cotisations cnss ?", "quelle est la météo à Rabat demain ?",
              "je veux parler à un conseiller", "je veux connaître mon solde", "bonjour", "merci")


async def test_the_trained_assistants_turns_follow_the_contract(rasa, clarifying_message):
    client = RasaClient(rasa.url, timeout=30)
    decisions = set()
    try:
        for index, text in enumerate((*REAL_TURNS, clarifying_message)):
            turn = await client.send(f"contract-{index}", text, {"fund": "cnss_ma", "channel": "web"})
            assert_valid(turn.sanad)
            decisions.add(turn.decision)
    finally:
        await client.aclose()
    assert {"answer", "out_of_scope", "human_handoff", "account_balance", "clarify"} <= decisions, decisions
