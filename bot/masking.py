"""Masking personal data in free text: affiliate numbers, one-time codes, phone numbers and dates,
found on a copy of the text with Arabic-Indic digits and accents folded, so that "١٠٠ ٢٠٤ ٨٢١" and
"12 مارس 1980" are caught like "100 204 821" and "12/03/1980".

Standard library only: the conversation store (bot/redaction.py) and the logs of the Rasa side
(bot/log_redaction.py) use it, and so does the gateway (FastAPI environment) for what it shows
or keeps of a conversation (the agent console's transcripts)."""
from __future__ import annotations

import re
from typing import Optional

from bot.nlu.text import fold_digits, fold_in_place
from bot.nlu.userdata import WORDED_DATE

# Six or more digits, possibly split by spaces, dots or dashes (numbers, codes, phones), and
# dates such as 12/03/1980 or 1980-03-12.
_PII = re.compile(r"(?<!\w)\+?\d(?:[\s.\-]?\d){5,}(?!\w)|\b\d{1,4}[/.\-]\d{1,2}[/.\-]\d{2,4}\b")


# A citizen may type a birth date in words ("12 mars 1980", "12 شتنبر 1980", as the balance form
# reads them). The assistant's own replies quote knowledge-base dates in words ("jusqu'au 31
# décembre 2024"), which are not personal and which an agent reading the history needs.
IN_USER_TEXT = (_PII, WORDED_DATE)
IN_BOT_TEXT = (_PII,)


def mask_text(text: Optional[str], patterns: tuple = IN_USER_TEXT) -> Optional[str]:
    """`text` with what `patterns` find (identifiers, phone numbers, dates) replaced by "[…]";
    unchanged when they find nothing."""
    if not text:
        return text
    folded = fold_in_place(text)
    spans = sorted(m.span() for pattern in patterns for m in pattern.finditer(folded))
    if not spans:
        return text
    out, end = [], 0
    digits = fold_digits(text)
    for start, stop in spans:
        if start >= end:
            out.append(digits[end:start] + "[…]")
        end = max(end, stop)
    return "".join(out) + digits[end:]
