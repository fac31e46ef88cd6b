"""The `custom.sanad` block every action sends is the one docs/sanad-payload.schema.json describes
(the gateway validates the turns it parses against the same file: tests/gateway/test_sanad_payload.py)."""
import asyncio
import json
from pathlib import Path

import jsonschema
import pytest

from actions.balance.form import ActionAskAffiliateNumber, ActionAskBirthDate, ActionAskOtpCode, ActionCancelBalance, \
    ActionShowBalance
from actions.conversation import ActionHumanHandoff, ActionSmallTalk, ActionUnexpected
from actions.faq import ActionAnswerFaq, ActionClarify, ActionOutOfScope
from tests.rasa_side.test_actions import decided, tracker

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "sanad-payload.schema.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def blocks(action, t) -> list[dict]:
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, t, {})
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    found = [m["custom"]["sanad"] for m in dispatcher.messages if (m.get("custom") or {}).get("sanad") is not None]
    assert found, f"{action.name()} sent no sanad block"
    return found


def assert_valid(block: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(block), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


CASES = {
    "answer": (ActionAnswerFaq(), tracker(sanad=decided(topic="payment_channels"))),
    "answer casnos in darija": (ActionAnswerFaq(), tracker(sanad=decided(fund="casnos_dz", lang="arq", script="arab",
                                                                          topic="contact"))),
    "answer to a button": (ActionAnswerFaq(), tracker(text="/choose_topic", sanad={},
                                                      entities=[{"entity": "topic", "value": "payment_channels"}],
                                                      slots={"reply_lang": "ar"})),
    "clarify": (ActionClarify(), tracker(sanad=decided(decision="nlu_fallback",
                                                      offered=["payment_channels", "contribution_amount"]))),
    "out of scope": (ActionOutOfScope(), tracker(sanad=decided(decision="out_of_scope"))),
    "handoff": (ActionHumanHandoff(), tracker(sanad=decided(decision="human_handoff", lang="en"))),
    "small talk": (ActionSmallTalk(), tracker(intent="thanks", sanad=decided(lang="ary", script="arab"))),
    "unreadable": (ActionUnexpected(), tracker(intent="unreadable", sanad=decided())),
    "contact outside the form": (ActionUnexpected(), tracker(intent="share_contact", sanad=decided())),
    "unexpected in the form": (ActionUnexpected(), tracker(intent="share_contact", sanad=decided(),
                                                           active_loop="balance_form")),
    "ask the number": (ActionAskAffiliateNumber(), tracker(sanad=decided())),
    "ask the birth date": (ActionAskBirthDate(), tracker(sanad=decided(fund="casnos_dz"))),
    "ask the code": (ActionAskOtpCode(), tracker(sanad=decided(lang="ar", script="arab"))),
    "cancel the form": (ActionCancelBalance(), tracker(intent="cancel", sanad=decided())),
    "balance locked": (ActionShowBalance(), tracker(sanad=decided(), slots={"balance_outcome": "locked",
                                                                          "balance_retry_after": 600})),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_actions_payload_follows_the_schema(case):
    action, t = CASES[case]
    for block in blocks(action, t):
        assert_valid(block)


def test_the_schema_refuses_what_the_gateway_could_not_read():
    good = blocks(*CASES["answer"])[0]
    for broken in ({**good, "decision": "maybe"}, {k: v for k, v in good.items() if k != "topic"},
                   {**good, "lang": "de"}, {**good, "sources": [{"title": "x"}]}, {**good, "surprise": 1}):
        assert list(VALIDATOR.iter_errors(broken)), broken
