"""The form of a follow-up: a short message that opens like the continuation of a conversation
("et pour un médecin ?", "w ana fla7?", "وإذا كنت حرفيا؟", "what about a taxi driver?").

Only the form is read here, the words that open the message and its length; whether the
conversation's topic then counts, and how much, is decided with calibrated thresholds
(bot/nlu/context.py). Cues are kept per language for the people who maintain them; a message is
checked against all of them, since the language of a three-word message is often a guess."""
from __future__ import annotations

import re
from typing import Dict, FrozenSet, List, Tuple

from bot.nlu.text import normalise

# Openers, as citizens type them (normalised on load). A multi-word cue must open the message.
CUES: Dict[str, List[str]] = {
    "fr": ["et", "et si", "et pour", "et moi", "et nous", "et les", "et le", "et la", "et un", "et une",
           "et quand", "et ou", "et combien", "et comment", "et mon", "et ma", "et mes", "pour un",
           "pour une",
           "pour les", "meme chose pour", "et si je suis", "aussi pour", "sinon", "du coup", "alors"],
    "en": ["and", "and if", "and for", "and what", "what about", "how about", "what if", "also", "same for",
           "and me", "and my", "and where", "and when", "and how", "so"],
    "ar": ["و", "واذا", "وان", "وانا", "ونحن", "وماذا", "وما", "وبالنسبه", "وهل", "ولو", "وكيف", "واين",
           "ومتى",
           "وكم", "وعن", "وفي", "ولكن", "بالنسبه ل", "ماذا عن", "وماذا عن", "وايضا", "وكذلك"],
    "ary": ["w", "wa", "w ila", "wila", "w ana", "wana", "w ida", "w bnisba", "w fin", "w imta", "w ch7al",
            "w chhal", "w kifach", "w wach", "walakin", "و", "والا", "وانا", "وفين", "وامتى", "وشحال",
            "وكيفاش", "وواش", "وبالنسبه", "وحتى", "حتى انا", "ولا", "وشنو"],
    "arq": ["w", "wa", "w ida", "wida", "w ana", "wana", "w win", "w wa9tach", "w waqtach", "w 9adach",
            "w qadach", "w kifach", "w wach", "و", "واذا", "وكان", "وانا", "ووين", "ووقتاش", "وقداه",
            "وكيفاش",
            "وواش", "وحتى", "حتى انا", "وشحال"],
}
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> List[str]:
    return _WORD.findall(normalise(text))


def _cue_table() -> Tuple[FrozenSet[Tuple[str, ...]], int]:
    cues = frozenset(tuple(_words(cue)) for cues in CUES.values() for cue in cues)
    return cues, max(len(cue) for cue in cues)


_CUE_WORDS, _LONGEST_CUE = _cue_table()
# Arabic writes "and" as a prefix: "والطبيب" is "and the doctor", "وأختي" "and my sister". A first
# word of "و" + at least two letters is read as "and" + a word, unless it is one of these common
# words whose "و" is their own first letter (normalised).
_WAW = "و"
_NOT_AND = frozenset(normalise(word) for word in (
    "واش", "وش", "وين", "وقت", "وقتاش", "وقاش", "وثائق", "وثيقة", "ولد", "ولاد", "ولادي", "وليداتي", "وزارة",
    "وكالة", "واحد", "وحدة", "وحدي", "وحدو", "وهران", "وجدة", "وصل", "وصلني", "وضعية", "وظيفة", "ولاية",
    "وزير", "ورقة", "وراق", "الوراق", "وطني", "وطنية", "وقف", "واجب", "واجبات", "وسيط", "وفاة", "وفات", "والو",
    "والدي",
    "والدتي", "والدين", "وارث", "ورثة", "وكيل", "وكلاء", "وديعة", "وسائل", "وسيلة", "وجب", "وجبات", "وقع",
))


def _is_arabic_and(word: str) -> bool:
    return word.startswith(_WAW) and len(word) >= 3 and word not in _NOT_AND


def word_count(text: str) -> int:
    return len(_words(text))


def opens_like_a_followup(text: str) -> bool:
    """Whether the message opens with a continuation cue ("et", "w", "و...", "what about")."""
    words = _words(text)
    if words and _is_arabic_and(words[0]):
        return True
    return any(tuple(words[:n]) in _CUE_WORDS for n in range(1, min(len(words), _LONGEST_CUE) + 1))


def followup_form(text: str) -> Dict[str, object]:
    """What the context decision reads of a message's form (the parse result's `followup`)."""
    return {"cue": opens_like_a_followup(text), "words": word_count(text)}
