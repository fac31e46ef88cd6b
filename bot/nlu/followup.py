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
# Words that open a reply without saying anything, before its cue: "ok, et quels papiers ?",
# "wakha w fin?", "حسنا، وماذا عن ...". They are read past, not as a cue of their own: "ok les
# papiers ?" opens with none. Such a reply is a follow-up by the gates of length only (short, or a
# question word), not by naming somebody (bot/nlu/context.py is_followup): one that opens with
# "ok" and goes on at length about a person is mostly a question of its own ("d'accord. sinon mon
# mari est commerçant, nos enfants sont couverts ?", "wakha w lwalida dyali li sakna m3aya?"), and
# the person probe read such replies as persons (six conversations of held-out sets 4-9 went from
# right to wrong when it did). Yes-words of one language ("wah", "ih") are left out where they are
# also words of another.
INTERJECTIONS: Dict[str, List[str]] = {
    "fr": ["ok", "okay", "d accord", "dac", "bon", "ah", "ah bon", "ah ok", "oui", "merci", "bien", "tres bien",
           "parfait", "super", "hmm"],
    "en": ["ok", "okay", "alright", "all right", "thanks", "thank you", "cool", "great", "yes", "yeah", "oh",
           "hmm", "i see"],
    "ar": ["حسنا", "طيب", "شكرا", "نعم", "اها", "فهمت"],
    "ary": ["wakha", "waxa", "safi", "mzyan", "mzyan bzaf", "chokran", "واخا", "صافي", "مزيان", "شكرا"],
    "arq": ["saha", "sahit", "mlih", "d accord", "merci", "صحة", "صحيت", "مليح", "ياك"],
}
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> List[str]:
    return _WORD.findall(normalise(text))


def _phrase_table(by_lang: Dict[str, List[str]]) -> Tuple[FrozenSet[Tuple[str, ...]], int]:
    phrases = frozenset(tuple(_words(phrase)) for phrases in by_lang.values() for phrase in phrases)
    return phrases, max(len(phrase) for phrase in phrases)


_CUE_WORDS, _LONGEST_CUE = _phrase_table(CUES)
_INTERJECTION_WORDS, _LONGEST_INTERJECTION = _phrase_table(INTERJECTIONS)
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


def _longest_match(words: List[str], table: FrozenSet[Tuple[str, ...]], longest: int) -> int:
    matched = [n for n in range(1, min(len(words), longest) + 1) if tuple(words[:n]) in table]
    return max(matched, default=0)


def interjection_length(words: List[str]) -> int:
    """How many of the first words are interjections ("ok", "ah ok merci"; 0 for none)."""
    skipped = 0
    while True:
        step = _longest_match(words[skipped:], _INTERJECTION_WORDS, _LONGEST_INTERJECTION)
        if not step:
            return skipped
        skipped += step


def cue_length(words: List[str]) -> int:
    """How many of the first words are a continuation cue (the longest that matches; 0 for none).
    A word with an Arabic "و" prefix that is no cue itself ("والطبيب") counts as content."""
    return _longest_match(words, _CUE_WORDS, _LONGEST_CUE)


def opener_length(words: List[str]) -> int:
    """How many of the first words open the message without content: its interjections and the
    cue after them ("ok et pour" in "ok et pour un boucher ?")."""
    skipped = interjection_length(words)
    return skipped + cue_length(words[skipped:])


def opens_like_a_followup(text: str) -> bool:
    """Whether the message opens with a continuation cue ("et", "w", "و...", "what about"), after
    any interjection ("ok, et ...")."""
    words = _words(text)
    words = words[interjection_length(words):]
    return bool(words) and (_is_arabic_and(words[0]) or cue_length(words) > 0)


def without_cue(text: str) -> str | None:
    """The message as typed, without the continuation cue that opens it ("et pour ma soeur
    coiffeuse ?" -> "ma soeur coiffeuse ?", "وبائع السمك؟" -> "بائع السمك؟"), or None when it opens
    with none or nothing follows. Cut on the raw text, so the rest keeps its accents and letters:
    the person probe reads it (bot/nlu/persons.py). A cue after an interjection ("ok, et pour ...")
    is not cut: such a reply is never a follow-up by naming somebody (INTERJECTIONS)."""
    words = _words(text)
    if not words:
        return None
    cut = cue_length(words)
    raw_words = list(_WORD.finditer(text))
    if len(raw_words) != len(words):  # normalising merged or split a word: no safe cut
        return None
    if cut:
        rest = text[raw_words[cut - 1].end():] if cut < len(raw_words) else ""
        if cut < len(raw_words) and _is_arabic_and(words[cut]):
            rest = text[raw_words[cut].start() + 1:]  # and the next word's glued "and"
    elif _is_arabic_and(words[0]):
        rest = text[raw_words[0].start() + 1:]
    else:
        return None
    rest = rest.strip(" \t\n,.;:!?-،؟")
    return rest or None


# Function words, which carry no content of their own ("a taxi driver" is two words of content).
_FUNCTION_WORDS = frozenset(normalise(word) for word in (
    "un", "une", "le", "la", "les", "l", "de", "du", "des", "d", "pour", "mon", "ma", "mes", "au", "aux",
    "a", "an", "the", "my", "for", "of", "to", "in", "i", "m", "s", "is",
    "عن", "في", "على", "من", "dyal", "ta3", "taa", "f", "fi", "el", "al",
))


def content_words(text: str) -> int:
    """The words of content after the continuation cue, without the question phrase: "what about a
    taxi driver?" carries two, "et pour un médecin ?" one, "how many days do I have?" two ("do",
    "have"). The follow-up gate counts these, so a language whose cues and articles are separate
    words ("what about a", "et pour un") is not held to fewer words of content than one that writes
    them as prefixes ("والطبيب؟"), and a question phrase of three words ("combien de jours") to
    fewer than one of a single word ("imta")."""
    words = _words(text)
    start = opener_length(words)
    _, at, length = _find_aspect(words)
    asked = set(range(at, at + length)) if length else set()
    return sum(word not in _FUNCTION_WORDS for i, word in enumerate(words) if i >= start and i not in asked)


def followup_form(text: str) -> Dict[str, object]:
    """What the context decision reads of a message's form (the parse result's `followup`)."""
    words = _words(text)
    return {"cue": opens_like_a_followup(text), "interjection": interjection_length(words) > 0,
            "words": len(words),
            "content_words": content_words(text), "aspect": question_aspect(text)}


# ---- what a follow-up asks --------------------------------------------------------------------
# A follow-up with a question word asks about one aspect of the conversation's subject: "w fin?"
# after an amount is where to pay it, "and when?" when it is due. The question word then names a
# topic of its own (ASPECT_TOPICS), weighed against the conversation's topic with fitted weights
# (bot/nlu/context.py). Words as citizens type them, normalised and arabizi-folded on load; an
# Arabic word also matches with its "and" prefix ("وفين", "ومتى").
QUESTION_WORDS: Dict[str, Dict[str, List[str]]] = {
    "where": {"fr": ["ou", "quel endroit", "quel guichet"], "en": ["where"], "ar": ["اين", "بأي مكان"],
              "ary": ["fin", "fain", "fine", "فين", "فاين"], "arq": ["win", "wayn", "fin", "وين", "فين"]},
    "when": {"fr": ["quand", "quelle date", "quel delai", "date limite"],
             "en": ["when", "how soon", "what date", "deadline", "due"], "ar": ["متى", "متي", "اجل", "موعد"],
             "ary": ["imta", "emta", "fo9ach", "fwa9ach", "امتى", "فوقاش", "اجل"],
             "arq": ["wa9tach", "waqtach", "wektach", "imta", "وقتاش", "امتى", "اجل"]},
    # How long one has ("j'ai combien de jours ?", "وخلال كم يوما؟"): a time limit, read before the
    # "how much" of its first word alone.
    "how_long": {"fr": ["combien de jours", "combien de temps", "combien de mois"],
                 "en": ["how long", "how many days", "how much time"],
                 "ar": ["كم يوما", "كم يوم", "كم من الوقت", "مهلة"],
                 "ary": ["ch7al mn nhar", "chhal mn nhar", "ch7al dyal lwe9t", "شحال من نهار", "شحال من يوم",
                         "شحال ديال الوقت"],
                 "arq": ["9dach mn wa9t", "9adach mn wa9t", "9adach mn yom", "qadach mn wa9t", "قداه من يوم",
                         "قداش من وقت", "قداه من وقت"]},
    "how_much": {"fr": ["combien", "quel montant", "quel prix"], "en": ["how much", "what amount", "cost"],
                 "ar": ["كم", "بكم", "المبلغ", "مبلغ"],
                 "ary": ["ch7al", "chhal", "chal", "bch7al", "شحال", "بشحال"],
                 "arq": ["9adach", "qadach", "9dach", "chhal", "قداه", "قداش", "شحال", "بقداه"]},
    "documents": {"fr": ["papiers", "documents", "pieces", "dossier"],
                  "en": ["documents", "papers", "paperwork"], "ar": ["الوثائق", "وثائق", "الملف"],
                  "ary": ["lwra9", "lwraq", "wra9", "lkwaght", "الوراق", "وراق", "الكواغط"],
                  "arq": ["lwra9", "lwraq", "papiers", "dossier", "الوراق", "لوراق"]},
    # Whether one must ("c'est obligatoire ou pas ?", "واش بزز ولا بالخاطر؟"): who must join is
    # eligibility, but after a pension answer it is the pension's own question (topics.md:
    # retirement is "voluntary or mandatory"; ASPECT_OF_CONTEXT). Words that say mandatory or
    # optional only: "lazem" / "لازم" (must) ask about anything ("lazem nkhalas 9bel imta?").
    "obligation": {"fr": ["obligatoire", "facultatif", "facultative", "optionnel", "optionnelle"],
                   "en": ["mandatory", "compulsory", "obligatory", "optional"],
                   "ar": ["اجباري", "اجباريه", "الزامي", "الزاميه", "اختياري", "اختياريه"],
                   "ary": ["darori", "dharori", "bzz", "b zz", "ijbari", "ضروري", "بزز", "بالزز", "بالخاطر",
                           "اجباري", "اجباريه"],
                   "arq": ["mfrouda", "mafrouda", "ijbari", "wajib", "مفروضه", "مفروض", "اجباري", "اجباريه",
                           "واجبه"]},
}
ASPECT_TOPICS = {"where": "payment_channels", "when": "contribution_deadline",
                 "how_long": "contribution_deadline", "how_much": "contribution_amount",
                 "documents": "registration", "obligation": "eligibility"}
# Where the conversation's own topic is what the question word asks about (topics.md: registration
# is "how, where and by when to register"; retirement is "age, minimum years, how it is computed";
# health coverage is "reimbursement rates"), the aspect is that topic (and "within how many days?"
# after registration is the time limit to register): "w fin?" after the papers
# to register is where to register, "كم؟" after a pension answer is how many years or how much
# pension, not the contribution. The calibration's question contexts (followup_fragments.yml)
# leave these pairs out, so the fitted weights hold for them as they are.
ASPECT_OF_CONTEXT = {("where", "registration"): "registration", ("where", "contact"): "contact",
                     # After "must I join?", "and where?", "and how?", "and when?" and "how long do
                     # I have?" ask where, how and how soon to join (topics.md: registration is "by
                     # when to register").
                     ("where", "eligibility"): "registration", ("how", "eligibility"): "registration",
                     ("when", "eligibility"): "registration", ("how_long", "eligibility"): "registration",
                     ("how_long", "registration"): "registration",
                     ("how_much", "retirement"): "retirement", ("how_much", "health_coverage"): "health_coverage",
                     ("how_much", "family_allowances"): "family_allowances",
                     ("when", "retirement"): "retirement",
                     # After the waiting period, "when?", "how long?" and "how much (time)?" ask how
                     # long the wait is (topics.md: "when my health rights open").
                     ("when", "waiting_period"): "waiting_period", ("how_long", "waiting_period"): "waiting_period",
                     ("how_much", "waiting_period"): "waiting_period",
                     ("obligation", "retirement"): "retirement"}

# Pairs of ASPECT_OF_CONTEXT where a message leans on the aspect's usual topic because of its
# question word alone, so that after this context its score there is the context's topic's: "c'est
# obligatoire ou pas ?" reads as who must join (eligibility, 0.85-0.94) only because of
# "obligatoire"; after a pension answer it asks whether the pension is. Not "where" after
# registration: "et je paie où ?" leans on payment channels by its verb as well.
SCORE_FOLLOWS_CONTEXT = frozenset({("obligation", "retirement")})


def moved_to_context(scores: Dict[str, float], aspect: str | None, context_topic: str) -> Dict[str, float]:
    """The scores with the aspect's usual topic's moved onto the context's topic, for the pairs of
    SCORE_FOLLOWS_CONTEXT (unchanged otherwise)."""
    if (aspect, context_topic) not in SCORE_FOLLOWS_CONTEXT:
        return scores
    moved, usual = dict(scores), ASPECT_TOPICS[aspect]
    moved[context_topic] = moved.get(context_topic, 0.0) + moved.get(usual, 0.0)
    moved[usual] = 0.0
    return moved


# A bare "and how?" ("et comment ?", "w kifach?", "وكيف ذلك؟"): the whole message, once its cue is
# off, is one of these. It asks how to do what the answer was about, so its topic is the
# conversation's own, except where ASPECT_OF_CONTEXT says otherwise. "How" with words of its own
# ("et je paie comment ?") names its topic itself and is no aspect.
BARE_HOW: Dict[str, List[str]] = {
    "fr": ["comment", "comment ca", "comment faire", "je fais comment", "on fait comment", "il fait comment",
           "elle fait comment", "ca se passe comment", "de quelle maniere"],
    "en": ["how", "how so", "how do i do it", "how do i do that", "how does it work", "how do they do it"],
    "ar": ["كيف", "كيف ذلك", "كيف يتم ذلك", "كيف اقوم بذلك", "بأي طريقة"],
    "ary": ["kifach", "kifash", "kifach ndir", "kifach n3ml", "كيفاش", "كيفاش ندير", "كيفاش نعمل"],
    "arq": ["kifach", "kifah", "kifach ndir", "kifach ndiro", "كيفاش", "كيفاه", "كيفاش ندير"],
}


def aspect_topic(aspect: str | None, context_topic: str | None) -> str | None:
    """The topic a question word asks about after an answer from `context_topic`."""
    if aspect is None:
        return None
    default = context_topic if aspect == "how" else ASPECT_TOPICS.get(aspect)
    return ASPECT_OF_CONTEXT.get((aspect, context_topic), default)


def _fold(words: List[str]) -> Tuple[str, ...]:
    from bot.nlu.text import fold_arabizi

    return tuple(fold_arabizi(word) for word in words)


def _aspect_table() -> Dict[Tuple[str, ...], str]:
    return {_fold(_words(word)): aspect for aspect, by_lang in QUESTION_WORDS.items()
            for words in by_lang.values() for word in words}


_ASPECT_WORDS = _aspect_table()
_BARE_HOW = frozenset(_fold(_words(phrase)) for by_lang in BARE_HOW.values() for phrase in by_lang)


def is_bare_how(text: str) -> bool:
    """Whether the message is only "how?" after its continuation cue, if any ("and how?", whose
    cue "and how" holds the question word itself, too)."""
    words = _words(text)
    for start in range(interjection_length(words), opener_length(words) + 1):
        rest = words[start:]
        if rest and _is_arabic_and(rest[0]):  # "وكيف ذلك؟"
            rest = [rest[0][1:]] + rest[1:]
        if rest and _fold(rest) in _BARE_HOW:
            return True
    return False


def question_aspect(text: str) -> str | None:
    """The aspect a message's first question word asks about ("where", "when", "how_much",
    "documents"; "how" for a bare "and how?"), or None. Question phrases of one to three words,
    anywhere in the message; at one position the longest wins ("combien de jours" is a time limit,
    "combien" an amount)."""
    if is_bare_how(text):
        return "how"
    return _find_aspect(_words(text))[0]


def _find_aspect(words: List[str]) -> Tuple[str | None, int, int]:
    """The first question phrase among the words: (its aspect, where it starts, how many words),
    or (None, 0, 0)."""
    folded = _fold([word[1:] if _is_arabic_and(word) else word for word in words])
    raw = _fold(words)
    for i in range(len(words)):
        for sequence in (raw, folded):
            for n in (3, 2, 1):
                aspect = _ASPECT_WORDS.get(sequence[i:i + n])
                if aspect:
                    return aspect, i, n
    return None, 0, 0
