"""What an action needs to know about the current turn: which fund the deployment serves,
which language to reply in, what the NLU decided. All of it comes from the parse result's
`sanad` block (bot/nlu/components.py); turns without text (a button) reuse the last reply
language kept in the `reply_lang` slot."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Optional

from rasa_sdk import Tracker

from bot.knowledge import LANGUAGES, KnowledgeBase, known_fund, load_knowledge_base
from bot.nlu.language import Language, reply_language
from bot.registry import registry


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base()


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
        # A button press, or a message that is only data (a number, a date, a code): keep the
        # conversation's language rather than guess one from digits.
        if (not self.decision or self.decision.get("label") == "inform") and self.last_reply_lang:
            return self.last_reply_lang if self.last_reply_lang in available else reply_language(self.lang, available)
        return reply_language(self.lang, available)


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
    lang = Language(block["lang"], block["script"]) if "lang" in block else default_lang
    chosen = metadata.get("lang") if metadata.get("lang") in LANGUAGES else None
    return Turn(fund=fund, lang=lang, decision=block, last_reply_lang=last, chosen_lang=chosen)
