"""Reading what citizens type for the balance form.

Affiliate numbers: digits with any spaces, dots or dashes, Arabic-Indic digits accepted; each
fund's format (length, pattern, the example the form shows) is in registry.yml.
Birth dates: 12/03/1980, 12-3-1980, 1980-03-12, "12 mars 1980", "12 march 1980",
"١٢ مارس ١٩٨٠", Moroccan and Algerian month names in Arabic script."""
from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from bot.nlu.text import fold_digits, strip_accents
from bot.registry import registry

CODE_LENGTH = 6

_MONTHS = {
    # French, English
    "janvier": 1, "janv": 1, "january": 1, "jan": 1, "fevrier": 2, "fev": 2, "february": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3, "avril": 4, "avr": 4, "april": 4, "apr": 4, "mai": 5, "may": 5,
    "juin": 6, "june": 6, "jun": 6, "juillet": 7, "juil": 7, "july": 7, "jul": 7, "aout": 8,
    "august": 8, "aug": 8, "septembre": 9, "sept": 9, "september": 9, "sep": 9, "octobre": 10,
    "oct": 10, "october": 10, "novembre": 11, "nov": 11, "november": 11, "decembre": 12, "dec": 12,
    "december": 12,
    # Arabic script: Morocco, Algeria/Tunisia, Levant
    "يناير": 1, "جانفي": 1, "كانون الثاني": 1, "فبراير": 2, "فيفري": 2, "مارس": 3, "أبريل": 4, "ابريل": 4,
    "أفريل": 4, "افريل": 4, "ماي": 5, "مايو": 5, "يونيو": 6, "يونيه": 6, "جوان": 6, "يوليوز": 7, "يوليو": 7,
    "جويلية": 7, "غشت": 8, "أغسطس": 8, "اغسطس": 8, "أوت": 8, "اوت": 8, "شتنبر": 9, "سبتمبر": 9,
    "أكتوبر": 10, "اكتوبر": 10, "نونبر": 11, "نوفمبر": 11, "دجنبر": 12, "ديسمبر": 12,
}
_MONTH_WORD = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_NUMERIC_DMY = re.compile(r"\b(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})\b")
_NUMERIC_YMD = re.compile(r"\b(\d{4})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})\b")
WORDED_DATE = re.compile(rf"(\d{{1,2}})\s*(?:er)?\s*({_MONTH_WORD})\.?\s*(\d{{4}})", re.IGNORECASE)
_NUMBER_CHARS = re.compile(r"\d[\d\s.\-\u2010-\u2015]*\d")


def _folded(text: Optional[str]) -> str:
    """Western digits, no accents, lower case: the form the date patterns are written for."""
    return strip_accents(fold_digits(text or "")).lower()


def affiliate_number(text: str, fund: str) -> Optional[str]:
    """The affiliate number in `text`, as digits, when it has the fund's format (any digits for
    a fund the registry does not know)."""
    funds = registry()
    number_format = funds.fund(fund).affiliate_number if funds.is_fund(fund) else None
    for candidate in _NUMBER_CHARS.findall(fold_digits(text or "")):
        digits = re.sub(r"\D", "", candidate)
        if (number_format is None or number_format.accepts(digits)) and not _NUMERIC_DMY.search(candidate):
            return digits
    return None


def birth_date(text: str, today: Optional[dt.date] = None) -> Optional[dt.date]:
    """A plausible birth date (between 110 years ago and 15 years ago) written in `text`."""
    today = today or dt.date.today()
    folded = _folded(text)
    found = None
    if m := _NUMERIC_YMD.search(folded):
        found = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    elif m := _NUMERIC_DMY.search(folded):
        found = (int(m.group(3)), int(m.group(2)), int(m.group(1)))
    elif m := WORDED_DATE.search(folded):
        found = (int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    if not found:
        return None
    try:
        date = dt.date(*found)
    except ValueError:
        return None
    oldest, youngest = today.replace(year=today.year - 110), today.replace(year=today.year - 15)
    return date if oldest <= date <= youngest else None


def one_time_code(text: str) -> Optional[str]:
    digits = re.sub(r"[\s\-]", "", fold_digits(text or ""))
    match = re.fullmatch(r"\D*?(\d{%d})\D*" % CODE_LENGTH, digits)
    return match.group(1) if match else None


def looks_like_data(text: str) -> bool:
    """True for a message that is mostly an identifier, a date or a code ("100 204 821",
    "né le 12 mars 1980", "482913"), so the NLU can route it to the form as `inform`."""
    folded = _folded(text)
    is_date = bool(WORDED_DATE.search(folded) or _NUMERIC_DMY.search(folded) or _NUMERIC_YMD.search(folded))
    if not is_date and len(re.findall(r"\d", folded)) < CODE_LENGTH:
        return False  # "3939", "2024": a question may mention a short number
    rest = WORDED_DATE.sub(" ", folded)
    rest = _NUMERIC_DMY.sub(" ", _NUMERIC_YMD.sub(" ", rest))
    rest = _NUMBER_CHARS.sub(" ", rest)
    words = [w for w in re.findall(r"[^\W\d_]+", rest) if len(w) > 2]
    return len(words) <= 3
