"""Amounts with their currency and dates in the citizen's language; the balance form's sentences
as the actions say them."""
import asyncio
import re

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.balance.form import ActionAskAffiliateNumber, ActionAskOtpCode, ActionShowBalance
from actions.balance.replies import balance_reply, date_text, money
from actions.context import knowledge_base

BALANCE = {
    "fund": "casnos_dz", "affiliate_ref": "•••••4217", "currency": "DZD",
    "contributions_due": [{"period": "2025", "amount": "48600.00"}], "penalties_due": "2430.00",
    "total_due": "51030.00", "last_payment": {"date": "2025-06-28", "amount": "45000.00"},
    "next_deadline": {"date": "2026-06-30", "amount": "48600.00"},
    "instalment_plan": {"instalments_left": 3, "next_instalment_date": "2026-12-10", "amount": "16200.00"},
    "health_rights": {"open": False, "since": None, "reason": "contributions_unpaid"},
}


def test_money():
    assert money("1234.50", "MAD", "fr") == "1\u202f234,50 DH"
    # Arabic as written in Algeria and Morocco (CLDR ar_DZ, ar_MA): a decimal comma, as in French
    # there. In "1,234.50 دج" (the Middle East's convention) a Maghreb reader takes the comma for
    # the decimal point.
    assert money("1234.50", "DZD", "arq") == "1.234,50 دج"
    assert money("1234.50", "MAD", "ar") == "1.234,50 درهم"
    assert money("0.00", "MAD", "en") == "0.00 MAD"


def test_month_names_follow_the_country():
    assert date_text("2026-08-01", "ar", "cnss_ma") == "1 غشت 2026"
    assert date_text("2026-08-01", "ary", "casnos_dz") == "1 أوت 2026"
    assert date_text("2026-08-01", "fr", "cnss_ma") == "1 août 2026"


def test_balance_reply_in_french_and_arabic():
    fr = balance_reply(BALANCE, "fr", "CASNOS")
    assert "•••••4217" in fr and "51\u202f030,00 DA" in fr and "10 décembre 2026" in fr and "suspendus" in fr
    ar = balance_reply(BALANCE, "ar", "الكاسنوس")
    assert "51.030,00 دج" in ar and "10 ديسمبر 2026" in ar and "موقوف" in ar


FUNDS = ("cnss_ma", "casnos_dz")
LANGS = ("fr", "ar", "ary", "arq", "en")


def said(action, fund: str, lang: str, slots=None) -> str:
    """What `action` says to a citizen of `fund` writing in `lang` (a tracker fixture, no model)."""
    script = "arab" if lang in ("ar", "ary", "arq") else "latn"
    latest = {"text": "...", "intent": {"name": "account_balance", "confidence": 0.9}, "entities": [],
              "metadata": {}, "sanad": {"fund": fund, "lang": lang, "script": script, "decision": "answer"}}
    tracker = Tracker("tester", slots or {}, latest, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tracker, {})
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    return " ".join(m["text"] for m in dispatcher.messages if m.get("text"))


@pytest.mark.parametrize("fund", FUNDS)
@pytest.mark.parametrize("lang", LANGS)
def test_service_unavailable_ends_its_sentences_once(fund, lang):
    """It ended "... www.macnss.ma.. Je peux ...": the official channels are whole sentences."""
    text = said(ActionShowBalance(), fund, lang, {"balance_outcome": "unavailable"})
    assert knowledge_base().fund(fund).in_lang("official_channels", lang) in text
    assert not re.search(r"\.\s*\.", text), text


@pytest.mark.parametrize("fund", FUNDS)
def test_official_channels_are_whole_sentences(fund):
    """The balance form's sentences put them between two sentences of their own."""
    for lang, channels in knowledge_base().fund(fund).official_channels.items():
        assert channels[-1] in ".!؟", (lang, channels)


@pytest.mark.parametrize("fund", FUNDS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("action", [ActionAskAffiliateNumber(), ActionAskOtpCode()], ids=["number", "code"])
def test_prompts_do_not_embed_the_funds_full_name(action, fund, lang):
    """The number prompt read "Quel est votre numéro d'affiliation CNSS – Caisse nationale de
    sécurité sociale (Maroc) : travailleurs non salariés et AMO (9 chiffres, ...) ?"."""
    name = knowledge_base().fund(fund).in_lang("name", lang)
    text = said(action, fund, lang)
    assert text and name not in text, text
