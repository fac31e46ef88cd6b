"""How the balance reply writes amounts and dates in the citizen's language and the fund's
country: Babel's locale data (CLDR) for the numbers' separators and the month names people use in
Morocco and in Algeria ("غشت", "أوت"), the registry's symbol of the fund's currency (DH, درهم, DA).
The sentences themselves are in actions/messages.py."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Dict, List, Optional

from babel import localedata
from babel.dates import format_date
from babel.numbers import format_decimal

from actions.messages import MESSAGES, say
from bot.registry import Fund, registry

AMOUNT = "#,##0.00"  # always two decimals: an amount owed, to the centime
DATE = "d MMMM y"  # "28 juin 2025", "28 يونيو 2025", "28 June 2025": day, month in words, year


def _locale(lang: str, fund: Optional[str]) -> str:
    """Babel's locale for `lang` in the fund's country (ar_MA, fr_DZ), or the language alone
    where CLDR has no such pair (English in Morocco: en)."""
    funds = registry()
    if fund is None or not funds.is_fund(fund):
        return funds.languages[funds.fallback(lang, funds.languages)].locale
    name = funds.babel_locale(lang, fund)
    return name if localedata.exists(name) else name.split("_")[0]


def _fund_of_currency(currency: str) -> Optional[Fund]:
    return next((fund for fund in registry().funds.values() if fund.currency == currency), None)


def money(amount: str, currency: str, lang: str) -> str:
    """As in "1 234,50 DH", "1.234,50 دج", "1,234.50 MAD": the separators of the language in the
    currency's country, then the currency's symbol in that language (its code if unknown)."""
    fund = _fund_of_currency(currency)
    number = format_decimal(Decimal(amount), format=AMOUNT, locale=_locale(lang, fund.id if fund else None))
    symbol = registry().in_language(fund.currency_symbols, lang) if fund else currency
    return f"{number} {symbol}"


def date_text(value: str | dt.date, lang: str, fund: str) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(day, format=DATE, locale=_locale(lang, fund))


def balance_reply(balance: Dict[str, Any], lang: str, fund_name: str) -> str:
    currency, fund = balance["currency"], balance["fund"]
    lines = [say("balance_header", lang, ref=balance["affiliate_ref"], fund=fund_name)]
    due: List[Dict[str, str]] = balance.get("contributions_due") or []
    if due:
        periods = ", ".join(f"{d['period']} ({money(d['amount'], currency, lang)})" for d in due)
        lines.append(say("due", lang, periods=periods))
    else:
        lines.append(say("due_none", lang))
    if Decimal(balance.get("penalties_due") or "0") > 0:
        lines.append(say("penalties", lang, amount=money(balance["penalties_due"], currency, lang)))
    lines.append(say("total", lang, amount=money(balance["total_due"], currency, lang)))
    if balance.get("last_payment"):
        p = balance["last_payment"]
        lines.append(say("last_payment", lang, amount=money(p["amount"], currency, lang), date=date_text(p["date"], lang, fund)))
    if balance.get("next_deadline"):
        d = balance["next_deadline"]
        lines.append(say("next_deadline", lang, amount=money(d["amount"], currency, lang), date=date_text(d["date"], lang, fund)))
    if balance.get("instalment_plan"):
        p = balance["instalment_plan"]
        lines.append(say("plan", lang, left=p["instalments_left"], amount=money(p["amount"], currency, lang),
                          date=date_text(p["next_instalment_date"], lang, fund)))
    rights = balance.get("health_rights") or {}
    if rights.get("open") and rights.get("since"):
        lines.append(say("rights_open", lang, date=date_text(rights["since"], lang, fund)))
    elif not rights.get("open"):
        reason = f"rights_{rights.get('reason')}"
        lines.append(say(reason if reason in MESSAGES else "rights_closed", lang))
    return "\n".join(lines)


