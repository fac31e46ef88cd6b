"""What an action needs to know about the current turn: which fund the deployment serves,
which language to reply in, what the NLU decided. All of it comes from the parse result's
`sanad` block (bot/nlu/components.py); turns without text (a button) reuse the last reply
language kept in the `reply_lang` slot.

The conversation's topic, for follow-ups (issue 20), is kept in the tracker's slots: the topic
of the last answer; its age is the number of citizen messages since the event that set it. Whatever
process reads the tracker (another replica, the same one after a restart) sees the same context.
Ages are counted on the events, not against a running total: Rasa sends the action server only
the recent part of a long conversation (bot/redaction.py recent_window), always more than
CONTEXT_TURNS messages."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from bot.knowledge import LANGUAGES, KnowledgeBase, known_fund, load_knowledge_base
from bot.nlu.context import CONTEXT_TURNS, decide_in_context
from bot.nlu.decision import Thresholds, load_thresholds
from bot.nlu.language import Language, reply_language
from bot.registry import registry

# (The domain's `context_turn` slot, the count of messages at the answer, is no longer written: the
# age is counted on the events since the topic's.)
CONTEXT_TOPIC, CONTEXT_CHOSEN = "context_topic", "context_chosen"


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base()


@lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    """The same calibrated thresholds as the NLU's AnswerDecider (bot/calibration.yml)."""
    return load_thresholds()


@dataclass
class Turn:
    fund: str
    lang: Language
    decision: Dict[str, Any]
    last_reply_lang: Optional[str]
    chosen_lang: Optional[str] = None  # the citizen's explicit choice (a channel's language switch)

    def reply_lang(self, available: frozenset = frozenset(LANGUAGES)) -> str:
        if self.chosen_lang:
            return registry().fallback(self.chosen_lang, available)
        if self.keeps_conversation_language():
            return registry().fallback(self.last_reply_lang, available)
        return reply_language(self.lang, available)

    def remember_lang(self, lang: str) -> List[Dict[str, Any]]:
        """The event keeping `lang` as the conversation's language, when it is a new one."""
        return [] if lang == self.last_reply_lang else [SlotSet("reply_lang", lang)]

    def keeps_conversation_language(self) -> bool:
        """A button press, a message that is only data (a number, a date, a code), or a short
        message without a marker word of any language ("وفين نخلصهم؟" after a Darija answer):
        keep the conversation's language rather than guess one from digits or two words."""
        if not self.last_reply_lang:
            return False
        return not self.decision or self.decision.get("label") == "inform" or self.lang.weak


def current_turn(tracker: Tracker) -> Turn:
    message = tracker.latest_message or {}
    block = message.get("sanad") or {}
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    # An unknown fund (Rasa's channel refuses one; its HTTP API does not) is the deployment's own.
    fund = known_fund(block.get("fund") or metadata.get("fund"))
    last = tracker.get_slot("reply_lang")
    languages = registry().languages
    last_known = last if last in languages else registry().root_language
    default_lang = Language(last_known, languages[last_known].script)
    lang = (Language(block["lang"], block["script"], weak=bool(block.get("lang_weak")))
            if "lang" in block else default_lang)
    chosen = metadata.get("lang") if metadata.get("lang") in LANGUAGES else None
    return Turn(fund=fund, lang=lang, decision=block, last_reply_lang=last, chosen_lang=chosen)


def messages_since_context(tracker: Tracker) -> Optional[int]:
    """How many citizen messages, this one included, came after the answer that set the
    conversation's topic; None when no such answer is among the tracker's events."""
    count = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            count += 1
        elif kind == "slot" and event.get("name") == CONTEXT_TOPIC:
            return count if event.get("value") else None
    return None


def conversation_topic(tracker: Tracker) -> Optional[str]:
    """The topic of the last answer, while it is recent: answered at most CONTEXT_TURNS citizen
    messages before this one. Another answer replaces it, so a topic switch is the new context."""
    topic, age = tracker.get_slot(CONTEXT_TOPIC), messages_since_context(tracker)
    if not topic or age is None:
        return None
    return topic if 0 < age <= CONTEXT_TURNS else None


def chosen_topic(tracker: Tracker) -> Optional[str]:
    """The conversation's topic when the citizen picked it on a clarification's button."""
    return conversation_topic(tracker) if tracker.get_slot(CONTEXT_CHOSEN) else None


def just_chosen(tracker: Tracker) -> bool:
    """Whether the citizen picked the conversation's topic on a clarification's button with the
    message just before this one."""
    return bool(tracker.get_slot(CONTEXT_CHOSEN)) and messages_since_context(tracker) == 1


def offered_just_before(tracker: Tracker) -> List[str]:
    """The topics of the clarification the assistant gave in reply to the citizen's previous
    message, when the citizen typed this one instead of pressing a button; none otherwise. Read
    from that reply's own event (actions/faq.py clarify: its `custom` part names the offered
    topics), so it needs no slot and lives in the tracker like the rest of the context."""
    seen_this_message = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_this_message:
                return []
            seen_this_message = True
        elif kind == "bot" and seen_this_message:
            sanad = ((event.get("data") or {}).get("custom") or {}).get("sanad") or {}
            return list(sanad.get("offered") or []) if sanad.get("decision") == "clarify" else []
    return []


def remember_topic(tracker: Tracker, topic: str, chosen: bool = False) -> List[Dict[str, Any]]:
    """The events that make `topic` the conversation's context from this message on; `chosen`
    when the citizen picked it on a clarification's button (bot/nlu/context.py settled_by_choice)."""
    return [SlotSet(CONTEXT_TOPIC, topic), *only_changes(tracker, [SlotSet(CONTEXT_CHOSEN, chosen)])]


def only_changes(tracker: Tracker, events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The events without the slot events that would set a slot to the value it has: each is one
    more event stored, and read back on every later turn of the conversation (bot/redaction.py).
    (The conversation's topic is set again on every answer: its event marks when it was given.)"""
    return [event for event in events
            if not (event.get("event") == "slot" and tracker.get_slot(event["name"]) == event.get("value"))]


def in_context(turn: Turn, tracker: Tracker) -> Turn:
    """The turn with the decision the conversation's context gives, when the message is a
    follow-up of a recent answer (bot/nlu/context.py); otherwise the NLU's own decision."""
    decided = decide_in_context(turn.decision, conversation_topic(tracker), thresholds(),
                                turn.decision.get("lang", turn.lang.lang), just_chosen(tracker),
                                offered_just_before(tracker))
    if decided is None:
        return turn
    return replace(turn, decision={**turn.decision, **decided.as_dict()})
