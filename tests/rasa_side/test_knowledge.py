"""The knowledge base obeys the rules of shared/domain/topics.md."""
import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot import paths
from bot.cli import main as sanad
from bot.knowledge import FUNDS, TOPICS, load_knowledge_base

FACTS = paths.KB_FACTS
KB = load_knowledge_base()
ENTRIES = list(KB.entries.values())


def _facts_text() -> str:
    if not FACTS.exists():
        pytest.skip(f"facts file not found at {FACTS}")
    return FACTS.read_text(encoding="utf-8")


def test_every_fund_and_topic_has_an_entry_and_the_check_is_clean():
    assert {(f, t) for f in FUNDS for t in TOPICS} == set(KB.entries)
    assert KB.check(dt.date.today()) == []


def test_kb_check_fails_once_a_review_date_has_passed(capsys):
    assert sanad(["kb", "check"]) == 0
    assert sanad(["kb", "check", "--today", "2099-01-01"]) == 1
    assert "review date passed" in capsys.readouterr().out


def test_kb_check_reports_a_broken_entry(tmp_path, capsys):
    copy = tmp_path / "knowledge"
    shutil.copytree(Path(__file__).resolve().parents[2] / "knowledge", copy)
    entry = copy / "cnss_ma" / "contact.yml"
    data = yaml.safe_load(entry.read_text())
    del data["answer"]["ar"]  # Arabic is required
    data["sources"] = []  # a source is required
    entry.write_text(yaml.safe_dump(data, allow_unicode=True))
    assert sanad(["kb", "check", "--dir", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "cnss_ma/contact.yml" in out


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.fund}/{e.topic}")
def test_entry_is_sourced_and_written_for_a_phone(entry):
    assert entry.sources and all(s.title and s.publisher for s in entry.sources)
    assert {"fr", "ar"} <= set(entry.answer)
    assert all(len(text) <= 700 for text in entry.answer.values())
    assert entry.review_by > dt.date.today()


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.fund}/{e.topic}")
def test_answers_invent_no_phone_number_link_or_amount(entry):
    """Every phone number, web address and amount an answer states appears in the facts file."""
    facts = re.sub(r"\s", "", _facts_text()).lower()
    for text in entry.answer.values():
        for number in re.findall(r"(?<![\d,.])\d[\d ]{3,}\d(?![\d,.])", text):
            compact = number.replace(" ", "")
            if re.fullmatch(r"(19|20)\d\d", compact):
                continue  # a year
            assert compact in facts, f"{number!r} is not in the facts file"
        for url in re.findall(r"(?:https?://)?(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:ma|dz|com)(?:/[\w/.-]*)?", text.lower()):
            bare = url.split("://")[-1].removeprefix("www.").rstrip("/.")
            assert bare.split("/")[0] in facts, f"{url!r} is not in the facts file"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.fund}/{e.topic}")
def test_no_fund_mix_up(entry):
    """A CASNOS answer never carries CNSS facts, and the reverse."""
    other = {"cnss_ma": ["casnos", "damancom", "chifa", "الكاسنوس"], "casnos_dz": ["3939", "macnss", "cnss.ma", "amo "]}[entry.fund]
    for lang, text in entry.answer.items():
        lowered = text.lower()
        assert not any(word in lowered for word in other), f"{lang} answer mentions the other fund"


def test_closed_measures_are_told_as_past():
    cnss = KB.entry("cnss_ma", "debt_relief").answer["fr"].lower()
    assert "2023" in cnss and "2024" in cnss and "3939" in cnss
    assert any(w in cnss for w in ("terminé", "close", "fermé", "pris fin", "achevé"))
    casnos = KB.entry("casnos_dz", "debt_relief").answer["fr"].lower()
    assert "2022" in casnos and "2015" in casnos


def test_unknowns_send_to_the_official_channel():
    # The facts say "Non trouvé" for a CASNOS phone number and for the TNS waiting period rule.
    assert "3939" in KB.entry("cnss_ma", "waiting_period").answer["fr"]
    casnos_contact = KB.entry("casnos_dz", "contact").answer["fr"].lower()
    assert "damancom" in casnos_contact and "agence" in casnos_contact
    assert not re.search(r"\b0\d{8,9}\b", casnos_contact)


def test_tunisian_amnesty_is_never_presented_as_moroccan_or_algerian():
    for entry in ENTRIES:
        text = entry.answer["fr"].lower()
        if "tunisi" in text:
            assert "ne concerne" in text or "pas" in text
