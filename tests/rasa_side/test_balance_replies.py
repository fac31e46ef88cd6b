"""Amounts with their currency and dates in the citizen's language."""
from actions.balance.replies import balance_reply, date_text, money

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
    assert money("1234.50", "DZD", "arq") == "1,234.50 دج"
    assert money("0.00", "MAD", "en") == "0.00 MAD"


def test_month_names_follow_the_country():
    assert date_text("2026-08-01", "ar", "cnss_ma") == "1 غشت 2026"
    assert date_text("2026-08-01", "ary", "casnos_dz") == "1 أوت 2026"
    assert date_text("2026-08-01", "fr", "cnss_ma") == "1 août 2026"


def test_balance_reply_in_french_and_arabic():
    fr = balance_reply(BALANCE, "fr", "CASNOS")
    assert "•••••4217" in fr and "51\u202f030,00 DA" in fr and "10 décembre 2026" in fr and "suspendus" in fr
    ar = balance_reply(BALANCE, "ar", "الكاسنوس")
    assert "51,030.00 دج" in ar and "10 ديسمبر 2026" in ar and "موقوف" in ar
