"""A fictitious third fund, `test_tn` (Tunisia), whose citizens write a Darija Sanad has never
had (`aeb`, Tunisian), added the way registry.yml says a fund is added: an entry in a copy of the
registry (with its language) and a folder in a copy of the knowledge base. No code changes: the
tests that use it (tests/rasa_side/test_third_fund.py, tests/gateway/test_third_fund.py) start
processes with SANAD_REGISTRY pointing at the copy and show that each one takes the new fund.

Standard library and PyYAML: both Python environments import it."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
FUND = "test_tn"
DARIJA = "aeb"
TOPIC = "payment_channels"

LANGUAGE = {"name": "الدارجة التونسية", "script": "arab", "locale": "ar", "fallback": "ar",
            "latin_script_reply": "fr"}
REGISTRY_ENTRY = {
    "short_name": "TESTFUND",
    "name": {"fr": "Caisse de démonstration des tests", "ar": "صندوق الاختبار", "en": "Test Fund"},
    "aliases": {"fr": ["TESTFUND"]},
    "tagline": {"fr": "Une caisse fictive, pour les tests"},
    "country": {"code": "TN", "name": {"fr": "Tunisie", "ar": "تونس", "en": "Tunisia"}},
    "darija": DARIJA,
    "time_zone": "Africa/Tunis",
    "currency": {"code": "TND", "symbol": {"fr": "DT", "ar": "د.ت", "en": "TND"}},
    "phone": {"country_code": "216", "national_digits": 8},
    "affiliate_number": {"length": 8, "pattern": "[0-9]{8}", "example": "12 345 678"},
}
SOURCE = {"title": "Page fictive des tests de Sanad", "publisher": "tests.sanad.example", "date": "2026-01",
          "url": "https://tests.sanad.example/caisse"}


def fund_file(today: dt.date) -> dict:
    return {
        "fund": FUND,
        "name": {"fr": "Caisse de démonstration des tests (Tunisie)", "ar": "صندوق الاختبار (تونس)"},
        "official_channels": {"fr": "Écrivez à la caisse de démonstration.", "ar": "راسل صندوق الاختبار."},
        "sources": [SOURCE], "reviewed": today.isoformat(), "review_by": (today + dt.timedelta(days=180)).isoformat(),
    }


def entry_file(today: dt.date) -> dict:
    return {
        "fund": FUND, "topic": TOPIC, "reviewed": today.isoformat(),
        "review_by": (today + dt.timedelta(days=180)).isoformat(), "sources": [SOURCE],
        "questions": {"fr": ["où payer ma cotisation"], "ar": ["أين أدفع اشتراكي"], DARIJA: ["وين نخلص"]},
        "answer": {"fr": "Payez au guichet de la caisse de démonstration.", "ar": "ادفع في شباك صندوق الاختبار.",
                   DARIJA: "خلص في الشباك متاع صندوق الاختبار."},
    }


def make(where: Path, today: dt.date | None = None) -> tuple[Path, Path]:
    """Write the registry copy with the third fund, and the knowledge base copy with its folder
    (its fund file and one topic), under `where`; returns (registry file, knowledge folder)."""
    today = today or dt.date.today()
    registry = yaml.safe_load((REPO / "registry.yml").read_text(encoding="utf-8"))
    registry["languages"][DARIJA] = LANGUAGE
    registry["funds"][FUND] = REGISTRY_ENTRY
    registry_file = where / "registry.yml"
    registry_file.write_text(yaml.safe_dump(registry, allow_unicode=True, sort_keys=False), encoding="utf-8")
    knowledge = where / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    (knowledge / FUND).mkdir()
    for name, content in (("_fund.yml", fund_file(today)), (f"{TOPIC}.yml", entry_file(today))):
        (knowledge / FUND / name).write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return registry_file, knowledge
