"""Text normalisation for matching: what citizens type varies in ways that carry no meaning
(accents, Arabic letter variants, diacritics, elongation, Arabic-Indic digits). Both training
examples and incoming messages go through `normalise` before featurisation and retrieval; the
original text is never replaced in the conversation."""
from __future__ import annotations

import re
import unicodedata

_ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
# Letter variants that citizens use interchangeably (hamza seats, alef maqsura, ta marbuta,
# Persian/Urdu look-alikes typed on some keyboards).
_ARABIC_FOLD = str.maketrans({
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
    "ى": "ي", "ئ": "ي", "ؤ": "و", "ة": "ه",
    "ک": "ك", "ی": "ي", "ڭ": "ك", "گ": "ك", "ڤ": "ف", "پ": "ب",
    "؟": "?", "،": ",", "؛": ";",
})
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_REPEATS = re.compile(r"(\D)\1{2,}")  # "salaaaam" -> "salaam", "ااااا" -> "اا"
_SPACES = re.compile(r"\s+")
# HTML/XML tags carry no question (pasted from a web page, or a probe such as
# "<script>alert(1)</script>", whose "script" the character n-grams took for "inscription").
# A "<" not followed by a letter ("<3", "< 5000 dh") is not a tag and stays.
_MARKUP_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>")
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u0671-\u06d3]")
_LATIN_LETTER = re.compile("[a-zA-Z\u00c0-\u024f]")


# A UTF-16 surrogate half is no character of any language: JSON can carry one alone ("\\ud800")
# and Python keeps it, but no encoder takes it (the embedding model's tokenizer raises).
_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """`text` without surrogate halves (a str never holds a valid pair: those decode to one
    character), so that every later step can encode it."""
    return _SURROGATE.sub("", text)


def has_something_to_read(text: str | None) -> bool:
    """False for a message with nothing a person could read: empty, only spaces, or only
    invisible characters (control and format characters such as NUL or zero-width spaces,
    surrogate halves, private-use or unassigned code points)."""
    return any(unicodedata.category(ch)[0] not in "CZ" for ch in text or "")


def fold_digits(text: str) -> str:
    """Arabic-Indic and Persian digits to ASCII ("١٢/٠٣/١٩٨٠" -> "12/03/1980")."""
    return text.translate(_DIGITS)


def fold_in_place(text: str) -> str:
    """ASCII digits, Latin letters lower-cased and without accents, one character for one: a span
    found in the result is the same span of `text` (redaction masks it there)."""
    out = []
    for ch in text.translate(_DIGITS):
        if ch < "\u0250":  # Latin: "É" -> "e"; Arabic letters are left as they are
            folded = unicodedata.normalize("NFD", ch)[0].lower()
            ch = folded if len(folded) == 1 else ch
        out.append(ch)
    return "".join(out)


def strip_accents(text: str) -> str:
    """Latin accents only ("é" -> "e"); Arabic letters are untouched (NFD would split them)."""
    out = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.category(ch) == "Mn" and not ("\u0600" <= ch <= "\u06ff"):
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def normalise(text: str) -> str:
    """The matching form of a message: lower case, no Latin accents, Arabic variants folded,
    no diacritics or elongation, ASCII digits, single spaces, no markup tags."""
    text = unicodedata.normalize("NFKC", without_surrogates(text or ""))
    untagged = _MARKUP_TAG.sub(" ", text)
    text = untagged if untagged.strip() else text  # a message that is only a tag is kept: never match on nothing
    text = text.replace(_TATWEEL, "")
    text = _ARABIC_DIACRITICS.sub("", text)
    text = text.translate(_ARABIC_FOLD).translate(_DIGITS)
    text = strip_accents(text.lower())
    text = text.replace("’", "'").replace("`", "'")
    text = _REPEATS.sub(r"\1\1", text)
    return _SPACES.sub(" ", text).strip()


# French says "self-employed" as "à son compte": "je suis à mon compte", "un plombier qui bosse à
# son compte". Both the character n-grams and e5 read its "compte" as the fund account of a
# balance request ("consulter mon compte"): "je suis à mon compte, je dois m'affilier ?" went to
# the balance form at 0.99, and twelve more training examples did not move it (stop 34). So the
# model reads the idiom as the word it means. Not after a word of access or money ("accéder à
# mon compte", "versé à mon compte") nor before a fund or bank ("à mon compte CNSS"), where it
# is an account; "pour mon compte" only after a verb of work ("pour mon compte cnss" is not).
_OWN_ACCOUNT = re.compile(
    r"\b(?P<prep>[àa]|pour)\s+(?:mon|ma|ton|son|notre|votre|leurs?)\s+(?:propre\s+)?compte\b"
    r"(?!\s*(?:cnss|casnos|bancaire|ccp|postal|en ligne|damancom|sur|chez))", re.IGNORECASE)
_WORD_BEFORE = re.compile(r"(\w+)\W*$")
_ACCOUNT_WORDS = frozenset("""
    acceder accede acces connecter connecte reconnecter connexion ajouter ajoute ajoutee ajoutes
    lier lie liee rattacher rattache rattachee associer associe associee verser verse versee
    versees versement versements virer vire viree virement crediter credite creditee debiter
    debite debitee imputer impute imputee reste restent restant figure figurent affiche enregistre
    enregistree payer paye payee paiement paiements transferer transfere envoyer envoye
    """.split())
_WORK_WORDS = frozenset("""
    travaille travailles travaillent travaillons travaillez travailler travaillais travaillait
    bosse bosses bossent bossons bossez bosser exerce exerces exercent exercer
    """.split())
SELF_EMPLOYED = "indépendant"


def read_idioms(text: str) -> str:
    """The text as the intent model and the retriever read it: the French idiom for
    self-employed ("à mon compte") becomes the word it means. Never the stored or shown text."""
    def replace(match: re.Match) -> str:
        before = _WORD_BEFORE.search(text, 0, match.start())
        word = strip_accents(before.group(1).lower()) if before else ""
        if word in _ACCOUNT_WORDS or (match.group("prep").lower() == "pour" and word not in _WORK_WORDS):
            return match.group(0)
        return SELF_EMPLOYED
    return _OWN_ACCOUNT.sub(replace, text)


# Arabizi writes Arabic sounds with digits and spells vowels and doubled consonants freely:
# "ch7al", "chhal", "shal" are one word, as are "nkhelles" / "nkhles", "9adech" / "kadech".
_ARABIZI_DIGITS = str.maketrans({"2": "a", "3": "a", "5": "kh", "7": "h", "8": "gh", "9": "q"})
_LATIN_WORD_WITH_LETTERS = re.compile(r"[a-z]")
_DOUBLED = re.compile(r"([a-z])\1+")


def fold_arabizi(normalised: str) -> str:
    """A spelling key for Latin-script words (applied after `normalise`, only for the character
    n-gram features, never for the embedding model or the stored text): digits used as letters
    become letters, "sh" -> "ch", "q" -> "k", doubled letters single. Numbers stay numbers
    ("135", "6.37"). French and English words go through the same key on both the training and
    the message side, so they still match each other.
    Measured (2026-11-22, `sanad calibrate --config` with the tokenizer's `arabizi_fold: true`,
    4-fold CV on 2,904 examples): utility 0.7174 against 0.7182 without, Darija 0.709 against
    0.707: no gain, so bot/config.yml leaves it off. Kept to re-measure as the data grows."""
    return " ".join(_fold_word(word) for word in normalised.split(" "))


def _fold_word(word: str) -> str:
    if not _LATIN_WORD_WITH_LETTERS.search(word):
        return word  # a number, or an Arabic-script word
    word = word.translate(_ARABIZI_DIGITS).replace("sh", "ch").replace("q", "k")
    return _DOUBLED.sub(r"\1", word)


def script_of(text: str) -> str:
    """'arab' when most letters are Arabic, else 'latn' (also for texts without letters)."""
    arabic = len(_ARABIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    return "arab" if arabic > latin else "latn"
