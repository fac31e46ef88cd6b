"""Which language and script a citizen wrote in, and which language to reply in.

Labels: fr, en, ar (Modern Standard Arabic), ary (Moroccan Darija), arq (Algerian Darija); scripts
latn, arab. Darija is recognised by marker words (both scripts); which Darija is decided by
variety-specific markers, and by the fund's own Darija (registry.yml) unless another variety's
markers clearly outnumber it."""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.nlu.text import normalise, script_of
from bot.registry import registry

# A deployment serves one country, and most "variety" markers also occur across the border
# (شحال is said in Oran, ندير in Casablanca and Algiers): one marker of the other variety is weak
# evidence. The other variety wins only with this many markers more than the deployment's own.
OTHER_VARIETY_LEAD = 2

# A message this short with no marker word of any language ("وفين نخلصهم؟", "CNSS ?") says
# nothing about the citizen's language: the detector's answer is only its default (MSA for
# Arabic script, French for Latin script), and the conversation's language should hold.
WEAK_EVIDENCE_WORDS = 6

# Markers are written in normalised form (see text.normalise): no hamza seats, ه for ة.
_DARIJA_ARAB_SHARED = {
    "واش", "كيفاش", "شحال", "بزاف", "علاش", "باش", "ديال", "ماشي", "كاين", "كاينه",
    "شي", "حتى", "مازال", "عافاك", "بلا", "هادي", "هاد", "هادا", "هادشي", "نخلص", "نخلصو",
    "خلصت", "خلصنا", "نسجل", "نتسجل", "نعرف", "بغا", "دابا", "لازم", "لاكارت", "ندير", "نديرو",
}
_ARY_ARAB = {
    "شنو", "شنوا", "اش", "بغيت", "بغينا", "خاصني", "خاصك", "خاص", "خاصو", "فين", "كنخلص", "كنخدم",
    "غادي", "غاديه", "مزيان", "واخا", "ديالي", "ديالك", "ديالو", "دابا", "كيخلص", "كيخلصو", "تا",
    "لامو", "الامو", "كاع", "زعما", "بزاف", "كنتسنى", "نتسنى", "فالضمان", "شكون", "راه", "ماكاينش",
    "كيديرو", "صافي", "الكوتيزاسيون", "مسجلش", "خدمتش",
}
_ARQ_ARAB = {
    "راني", "راك", "راكي", "راهي", "راهو", "راهم", "وين", "قداش", "كاش", "نتاع", "تاع", "تاعي",
    "تاعك", "حاب", "نحب", "بلي", "برك", "درك", "ماكانش", "لاكاسنوس", "لونساج",
    "كارطه", "بصح", "واشنو", "نخلصو", "تشكي", "ديرو", "نديرو", "بزاف", "يخي", "خداو", "منين",
    "شحال", "قديش", "ماعليش", "مليح",
}
# Words of Modern Standard Arabic a Darija speaker does not write (question words, relatives,
# particles; not ما, which is also Darija's negation): not used to tell MSA from Darija (no Darija
# marker is enough for MSA), only to know that an MSA reading rests on something. Matched with or
# without a leading و ("and").
_MSA_ARAB = {
    "هل", "ماذا", "لماذا", "كيف", "اين", "متي", "هي", "التي", "الذي", "الذين", "عن",
    "الي", "ان", "يجب", "اريد", "كم", "ليس", "لدي", "لقد", "سوف", "هذا", "هذه", "ذلك",
}
_DARIJA_LATN_SHARED = {
    "wach", "wech", "wesh", "wash", "kifach", "kifash", "kifech", "kifeh", "bach", "bash", "dyal",
    "dial", "diyal", "bezaf", "bzaf", "bzzaf", "3lach", "3lah", "lach", "chi", "daba", "ghir",
    "mazal", "ila", "lazem", "lazm", "khlast", "nkhles", "nkhless", "nkhlas", "nkhalas", "nkhalles",
    "nkhelles", "ntsejel", "nsejel", "nsajel", "n3ref", "n3raf", "3ndi", "3andi", "3andek", "m3a",
    "f", "fl", "hadchi", "hada", "hadi", "had", "wla", "wlla", "chkoun", "chkun", "3afak", "3afek",
    "kayn", "kayna", "kayen", "ana", "nta", "nti", "rah", "ra", "safi", "baraka", "hta", "7ta",
    "lyoum", "lyom", "nakul", "nakol", "chno", "chnou", "chnu", "ach", "mzyan", "mezyan", "bghit",
    "khassni", "khasni", "khass", "khas", "fin", "ch7al", "chhal", "chal", "shhal", "ghadi",
    "rani", "raki", "rahi", "rahou", "win", "9adech", "kadech", "qadech", "9dech", "ta3", "nta3",
    "ta3i", "hab", "nheb", "n7eb", "nhab", "kach", "belli", "bark", "drk", "dork", "derwek",
    "kifah", "bech", "mli", "ntqa3ed", "ntkhalas", "wa9tach", "waqtach", "imta", "emta", "b9adech",
    "mejbaria", "mejbour", "khddam", "khdam", "nkhdem", "b rassi", "rassi", "ntsna", "nstafed",
    "ra9m", "3tini", "mkhlles", "kolchi", "koulchi", "taman", "chher", "ntaa", "ndeclari",
    "ndeclarer", "nkhaless", "ykhalso", "shukran", "choukran", "chokran", "saha", "sa7a",
    "labas", "ahlan", "slm", "salam",
}
_ARY_LATN = {
    "chno", "chnou", "chnu", "bghit", "bghina", "khassni", "khasni", "khass", "khas", "fin", "ghadi",
    "mzyan", "mezyan", "wakha", "daba", "dyali", "dyalek", "kan", "kankhles", "kankhdem", "ch7al",
    "chhal", "chal", "zaama", "3afak", "safi", "nkhles", "nkhelles", "ntsejel", "dial", "dyal",
}
_ARQ_LATN = {
    "rani", "raki", "rak", "rahi", "rahou", "win", "9adech", "kadech", "qadech", "9dech", "ta3",
    "nta3", "ta3i", "hab", "nheb", "n7eb", "nhab", "kach", "belli", "bark", "drk", "dork", "derwek",
    "bech", "kifah", "nkhalas", "nkhalles", "ndeclari", "b9adech", "wa9tach", "mejbaria", "bessah",
    "sahbi", "khoya", "chifa", "ansej",
}
_EN = {
    "the", "is", "are", "how", "what", "my", "do", "does", "i", "can", "which", "who", "where",
    "when", "much", "pay", "please", "you", "your", "to", "of", "and", "for", "have", "has", "need",
    "want", "should", "must", "with", "it", "this", "that", "health", "insurance", "balance",
    "hello", "hi", "thanks", "thank", "bye", "am", "an", "a", "in", "on", "be", "self-employed",
    "contribution", "contributions", "children", "family", "members", "covered", "join", "join?",
    "online", "current", "owe", "speak", "agent", "human", "write", "me", "about", "poem", "sea",
    "pension", "retire", "retirement", "long", "wait", "refund", "cancel", "debt", "debts", "phone",
}
_FR = {
    "le", "la", "les", "de", "des", "du", "est", "et", "je", "j", "mon", "ma", "mes", "quel",
    "quelle", "quels", "quelles", "combien", "comment", "pour", "payer", "ou", "que", "qui",
    "quoi", "un", "une", "il", "elle", "dois", "doit", "faut", "suis", "peux", "peut", "avec",
    "sans", "pas", "ne", "en", "au", "aux", "cotisation", "cotisations", "c", "ce", "cette", "l",
    "d", "qu", "s", "t", "n", "y", "a", "sur", "par", "dans", "moi", "vous", "votre", "bonjour",
    "salut", "merci", "svp", "stp", "retraite", "caisse", "droits", "remboursement", "enfants",
    "annulation", "dettes", "agence", "date", "limite", "taux", "montant", "payer", "inscrire",
    "immatriculation", "affiliation", "mois", "annee", "encore", "possible", "est-ce",
}
_TOKEN = re.compile(r"[\w\u0600-\u06ff']+", re.UNICODE)


@dataclass(frozen=True)
class Language:
    lang: str  # fr | en | ar | ary | arq
    script: str  # latn | arab
    # True when `lang` is the script's default for a short message without a marker word: a
    # guess the conversation's own language should override (actions/context.py).
    weak: bool = False


def _tokens(text: str) -> list[str]:
    return [t for part in _TOKEN.findall(text) for t in part.split("'") if t]


def _has_arabizi_digits(tokens: list[str]) -> bool:
    """'3afak', 'ch7al', 'wa9tach': digits used as letters inside a word."""
    return any(re.search(r"[a-z][2379]|[2379][a-z]", t) for t in tokens)


def _variety(counts: dict[str, int], deployment_variety: str) -> str:
    """The deployment's Darija, unless another variety's markers outnumber its own clearly."""
    other = max((v for v in counts if v != deployment_variety), key=counts.get, default=None)
    if other and counts[other] - counts.get(deployment_variety, 0) >= OTHER_VARIETY_LEAD:
        return other
    return deployment_variety


def detect(text: str, fund: str | None = None) -> Language:
    norm = normalise(text)
    script = script_of(norm)
    tokens = _tokens(norm)
    funds = registry()
    darija_default = funds.fund(fund if funds.is_fund(fund) else funds.default_fund).darija
    if script == "arab":
        counts = {"ary": sum(t in _ARY_ARAB for t in tokens), "arq": sum(t in _ARQ_ARAB for t in tokens)}
        shared = sum(t in _DARIJA_ARAB_SHARED for t in tokens)
        if sum(counts.values()) + shared == 0:
            msa = sum(t in _MSA_ARAB or (t[:1] == "و" and t[1:] in _MSA_ARAB) for t in tokens)
            return Language("ar", script, weak=msa == 0 and len(tokens) <= WEAK_EVIDENCE_WORDS)
        return Language(_variety(counts, darija_default), script)

    darija = sum(t in _DARIJA_LATN_SHARED for t in tokens) + (2 if _has_arabizi_digits(tokens) else 0)
    french = sum(t in _FR for t in tokens)
    english = sum(t in _EN for t in tokens)
    if darija > max(french, english) or (darija >= 2 and darija >= french):
        counts = {"ary": sum(t in _ARY_LATN for t in tokens), "arq": sum(t in _ARQ_LATN for t in tokens)}
        return Language(_variety(counts, darija_default), script)
    if english > french:
        return Language("en", script)
    return Language("fr", script, weak=french == 0 and len(tokens) <= WEAK_EVIDENCE_WORDS)


def reply_language(detected: Language, available: set[str] | frozenset[str]) -> str:
    """The answer language for a detected message language, given the languages an answer exists
    in, along the registry's fallback chains: Darija in Arabic script gets Darija (else MSA),
    Darija in Latin script gets French (no arabizi answers are written), English gets English
    when written (else French)."""
    return registry().reply_language(detected.lang, detected.script, available)
