"""Small talk, the request for a human, and the one reply to what the dialogue does not expect."""
from __future__ import annotations

from typing import Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.context import current_turn, knowledge_base
from actions.reply import sanad_payload, utter_with_channels
from actions.messages import say

SMALL_TALK = {"greet", "goodbye", "thanks", "cancel"}
LISTEN = "action_listen"


class ActionSmallTalk(Action):
    def name(self) -> Text:
        return "action_small_talk"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        intent = intent if intent in SMALL_TALK else "greet"
        fund = knowledge_base().fund(turn.fund)
        dispatcher.utter_message(text=say(intent, lang, fund=fund.in_lang("name", lang)),
                                 json_message=sanad_payload(intent, turn, lang=lang))
        return turn.remember_lang(lang)


class ActionHumanHandoff(Action):
    """The request for a person: the fund's official human contacts, and the `human_handoff`
    decision in the payload. Through the gateway, a fund whose agents take live handoffs gets the
    conversation into its inbox instead, and the gateway replaces this sentence with its own (a
    person will answer here, place in the queue and rough wait; outside opening hours, when, with
    these same contacts): gateway/app/agent/handoff/desk.py. Elsewhere (Rasa's REST channel,
    `sanad ask`, a fund without opening hours) this sentence is what the citizen reads."""

    def name(self) -> Text:
        return "action_human_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        return utter_with_channels(dispatcher, current_turn(tracker), "handoff", "human_handoff")


class ActionUnexpected(Action):
    """One reply to a message the dialogue has no step for: a Telegram contact shared outside the
    balance look-up, a message with nothing to read, a payload for an intent the domain does not
    know. Rules route the first two here; it is also RulePolicy's core fallback (bot/config.yml)
    for everything else.

    It ends the turn itself: back to listening, or to the balance form, which asks its question
    again. A fallback that leaves the next step to the policies finds no rule after it, falls back
    again, and repeats until Rasa's action limit; the conversation then never listens again
    (issue 14: a shared contact answered ten times, then silence)."""

    def name(self) -> Text:
        return "action_unexpected"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        in_form = tracker.active_loop_name
        key = unexpected_message_key(intent, bool(in_form))
        dispatcher.utter_message(text=say(key, lang),
                                 json_message=sanad_payload("unexpected", turn, lang=lang, reason=key))
        return [*turn.remember_lang(lang), FollowupAction(in_form or LISTEN)]


def unexpected_message_key(intent: str | None, in_form: bool) -> str:
    """What action_unexpected says: why it could not read the message, why a shared contact is
    of no use here, or (in the form, which asks again) that it did not expect this message now."""
    if intent == "unreadable":
        return "unreadable"
    if in_form:
        return "unexpected_in_form"
    return "contact_unexpected" if intent == "share_contact" else "unexpected"
