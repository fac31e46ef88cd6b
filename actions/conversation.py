"""Small talk and the request for a human."""
from __future__ import annotations

from typing import Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import current_turn, knowledge_base
from actions.faq import sanad_payload, utter_with_channels
from actions.messages import say

SMALL_TALK = {"greet", "goodbye", "thanks", "cancel"}


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
        return [SlotSet("reply_lang", lang)]


class ActionHumanHandoff(Action):
    """No live agent inbox yet: say so honestly and give the fund's official human contacts."""

    def name(self) -> Text:
        return "action_human_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        return utter_with_channels(dispatcher, current_turn(tracker), "handoff", "human_handoff")
