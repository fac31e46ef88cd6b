"""Affiliate numbers and phone numbers as people type them, and as the records hold them."""
from __future__ import annotations

import re

from backend.app.funds import COUNTRY_CODE, NATIONAL_DIGITS, Fund

# Arabic-Indic (U+0660..U+0669) and Eastern Arabic-Indic (U+06F0..U+06F9) digits to ASCII.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Spaces of any kind and dash-like characters people put inside numbers.
_NUMBER_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_PHONE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.()/]+")
AFFILIATE_NUMBER = re.compile(r"[0-9]{6,20}")
MASK = "•••••"


def ascii_digits(text: str) -> str:
    return text.translate(_DIGITS)


def normalize_affiliate_number(raw: str) -> str:
    """Digits only; raises ValueError (a 422 for the API) unless 6 to 20 digits remain."""
    number = _NUMBER_SEPARATORS.sub("", ascii_digits(raw))
    if not AFFILIATE_NUMBER.fullmatch(number):
        raise ValueError("affiliate_number must be 6 to 20 digits, optionally separated by spaces or dashes")
    return number


def clean_phone(raw: str) -> str:
    """Separators removed, digits made ASCII; raises ValueError unless 8 to 15 digits remain,
    optionally after a `+`."""
    phone = _PHONE_SEPARATORS.sub("", ascii_digits(raw))
    if not re.fullmatch(r"\+?[0-9]{8,15}", phone):
        raise ValueError("phone must be 8 to 15 digits, optionally after a '+'")
    return phone


def to_e164(phone: str, fund: Fund) -> str | None:
    """From a `clean_phone` result: `+212612345678`, `00212612345678`, `212612345678` and
    `0612345678` (in Morocco) all give `+212612345678`; likewise with 213 in Algeria. None when
    the number is not one of that country."""
    country, national_digits = COUNTRY_CODE[fund], NATIONAL_DIGITS[fund]
    digits = phone.lstrip("+")
    if phone.startswith("+"):
        national = digits.removeprefix(country) if digits.startswith(country) else None
    elif digits.startswith("00" + country):
        national = digits[2 + len(country):]
    elif digits.startswith(country) and len(digits) == len(country) + national_digits:
        national = digits[len(country):]
    elif digits.startswith("0") and len(digits) == 1 + national_digits:
        national = digits[1:]
    else:
        national = None
    if national is None or len(national) != national_digits:
        return None
    return f"+{country}{national}"


def mask_number(number: str) -> str:
    """Only the last 4 digits, behind a fixed-width mask that does not tell the length."""
    return MASK + number[-4:]
