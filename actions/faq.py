"""Answers from the knowledge base: the answer itself with its source line, the clarification
with one button per candidate topic, and the polite refusal with the official channels.

The dialogue routes a message to one of the three on the NLU's decision, which saw the message
alone. Each first decides again in the conversation's context (actions/context.py `in_context`):
"et pour un médecin ?" after an answer about who must join is declined alone and answered in
context. So whichever action the rules picked, `reply_to` gives the reply of the final decision."""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import (Turn, chosen_topic, conversation_topic, current_turn, in_context, knowledge_base,
                             only_changes, remember_topic, thresholds)
from actions.messages import say
from actions.reply import sanad_payload, utter_with_channels
from bot.knowledge import Entry
from bot.nlu.context import settled_by_choice, settled_topic

MAX_SOURCES_SHOWN = 2  # a phone screen; the full list travels in the message's `custom` part


def today() -> dt.date:
    return dt.date.today()


def source_line(entry: Entry, lang: str) -> str:
    labels = " ; ".join(s.label(lang) for s in entry.sources[:MAX_SOURCES_SHOWN])
    return say("source", lang, sources=labels, reviewed=entry.reviewed.isoformat())


def reply_to(turn: Turn, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict]:
    """The reply to the turn's decision: an answer, a clarification or a polite refusal."""
    kind = turn.decision.get("decision")
    if kind == "answer":
        return answer(turn, turn.decision.get("topic"), dispatcher, tracker)
    if kind == "clarify":
        offered, chosen = clarification_choices(turn), chosen_topic(tracker)
        if chosen and settled_by_choice(turn.decision, offered, chosen):
            return answer(turn, chosen, dispatcher, tracker, chosen=True)
        context, lang = conversation_topic(tracker), turn.decision.get("lang", turn.lang.lang)
        settled = settled_topic(kind, turn.decision.get("offered") or [], turn.decision, context,
                                thresholds().for_lang(lang))
        if settled:
            return answer(turn, settled, dispatcher, tracker)
        return clarify(turn, dispatcher, offered)
    return utter_with_channels(dispatcher, turn, "out_of_scope", "out_of_scope")


def answer(turn: Turn, topic: str | None, dispatcher: CollectingDispatcher, tracker: Tracker,
           chosen: bool = False) -> List[Dict]:
    kb = knowledge_base()
    entry = kb.entry(turn.fund, topic) if topic else None
    fund = kb.fund(turn.fund)
    if entry is None:  # a forged or stale button payload: never answer from another fund
        return utter_with_channels(dispatcher, turn, "out_of_scope", "out_of_scope")
    lang = turn.reply_lang(frozenset(entry.answer))
    if entry.is_current(today()):
        # A blank line: Rasa's channels deliver the answer and its source line as two messages
        # (the gateway shows the source under the answer, with links from `custom`).
        text = f"{entry.answer_in(lang)}\n\n{source_line(entry, lang)}"
    else:  # a time-limited measure past its end: never present it as current
        text = say("measure_ended", lang, date=entry.valid_until.isoformat(),
                   channels=fund.in_lang("official_channels", lang))
    sources = [s.dict() for s in entry.sources]
    dispatcher.utter_message(text=text, json_message=sanad_payload(
        "answer", turn, topic=entry.topic, lang=lang, sources=sources, reviewed=entry.reviewed.isoformat()))
    return [*turn.remember_lang(lang), *only_changes(tracker, [SlotSet("topic", None)]),
            *remember_topic(tracker, entry.topic, chosen)]


MIN_CHOICES = 2  # a clarification with one topic button is no question: "did you mean X, or...?"


def clarification_choices(turn: Turn) -> List[str]:
    """The topics a clarification offers: the NLU's (those above the clarify threshold) that this
    fund answers, then, when fewer than two are left, the fund's next best-scored topics. One
    button alone came from two places: a best topic just above the threshold with nothing else
    near it, and an offered topic the fund has no entry for (a smaller knowledge base, a third fund)."""
    kb = knowledge_base()
    offered = [t for t in turn.decision.get("offered", []) if kb.entry(turn.fund, t)]
    if not offered or len(offered) >= MIN_CHOICES:
        return offered  # nothing offered: the message is declined, not padded into a menu
    scores = turn.decision.get("scores_by_topic") or {}
    ranked = sorted((t for t, score in scores.items() if score > 0), key=lambda t: scores[t], reverse=True)
    for topic in ranked:
        if len(offered) >= MIN_CHOICES:
            break
        if topic not in offered and kb.entry(turn.fund, topic):
            offered.append(topic)
    return offered


def clarify(turn: Turn, dispatcher: CollectingDispatcher, offered: List[str]) -> List[Dict]:
    lang = turn.reply_lang()
    kb = knowledge_base()
    if not offered:
        return utter_with_channels(dispatcher, turn, "out_of_scope", "out_of_scope")
    buttons = [{"title": kb.topics.title(t, lang), "payload": f'/choose_topic{{"topic":"{t}"}}'}
               for t in offered]
    buttons.append({"title": say("clarify_none", lang), "payload": "/human_handoff"})
    dispatcher.utter_message(text=say("clarify", lang), buttons=buttons,
                             json_message=sanad_payload("clarify", turn, lang=lang, offered=offered))
    return turn.remember_lang(lang)


class ActionAnswerFaq(Action):
    """The NLU's answer, or the citizen's choice on a clarification button (which the context
    then follows: the next follow-up is about the chosen topic)."""

    def name(self) -> Text:
        return "action_answer_faq"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        chosen = next(tracker.get_latest_entity_values("topic"), None)
        if chosen:
            return answer(current_turn(tracker), chosen, dispatcher, tracker, chosen=True)
        return reply_to(in_context(current_turn(tracker), tracker), dispatcher, tracker)


class ActionClarify(Action):
    def name(self) -> Text:
        return "action_clarify"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        return reply_to(in_context(current_turn(tracker), tracker), dispatcher, tracker)


class ActionOutOfScope(Action):
    def name(self) -> Text:
        return "action_out_of_scope"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[Dict]:
        return reply_to(in_context(current_turn(tracker), tracker), dispatcher, tracker)
