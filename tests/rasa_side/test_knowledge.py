"""The knowledge base obeys the rules of shared/domain/topics.md."""
import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot import paths
from bot.tooling.cli import main as sanad
from bot.knowledge import FUNDS, TOPICS, load_knowledge_base, placeholder_reason, source_problems

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


# --- Every claim as strong as its source (issue 20, item 4) -------------------------------------

KB_DIR = Path(__file__).resolve().parents[2] / "knowledge"
_DOMAIN = re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:ma|dz|com|net|org|ai)\b")


def _kb_copy(tmp_path) -> Path:
    copy = tmp_path / "knowledge"
    shutil.copytree(KB_DIR, copy)
    return copy


def _rewrite(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _kb_check_output(directory: Path, capsys) -> tuple[int, str]:
    code = sanad(["kb", "check", "--dir", str(directory)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("text", [
    "TODO", "todo: trouver le titre", "Source", "Titre", "...", "…", "-", "publisher", "Éditeur",
    "n/a", "Article (titre non relevé)", "article de départ du projet (éditeur non relevé)",
    "xxx", "À compléter", "Unknown",
])
def test_placeholder_titles_and_publishers_are_recognised(text):
    assert placeholder_reason(text)


@pytest.mark.parametrize("text", [
    "Assurances sociales", "Que couvre l'AMO ?", "djazairess.com / Le Soir d'Algérie", "cnss.ma",
    "CNSS : remise totale des majorations de retard… pour les TNS", "FAQ – Prestations",
    "Propos du directeur de la CASNOS d'Oran sur l'ouverture des droits",
    "CASNOS (démenti cité par la presse)",
    "كاسنوس يوضح الفئات الملزمة بالانتساب",
])
def test_real_titles_and_publishers_are_not_placeholders(text):
    assert placeholder_reason(text) is None


def test_no_source_of_the_real_knowledge_base_is_a_placeholder_unlinked_undated_or_weak_alone():
    for item in ENTRIES + list(KB.funds.values()):
        assert source_problems(item.sources) == [], (item.fund, getattr(item, "topic", "_fund"))
    labels = [s.title + " " + s.publisher for i in ENTRIES + list(KB.funds.values()) for s in i.sources]
    assert not [label for label in labels if "relevé" in label or "article de départ" in label]


@pytest.mark.parametrize("path, field, value", [
    ("casnos_dz/contact.yml", "title", "TODO"),
    ("cnss_ma/retirement.yml", "publisher", "Source"),
    ("cnss_ma/contact.yml", "title", "..."),
    ("casnos_dz/_fund.yml", "publisher", "éditeur non relevé"),
])
def test_kb_check_reports_a_placeholder_in_a_source(tmp_path, capsys, path, field, value):
    copy = _kb_copy(tmp_path)
    _rewrite(copy / path, lambda data: data["sources"][0].__setitem__(field, value))
    code, out = _kb_check_output(copy, capsys)
    assert code == 1 and f"ERROR {path}: source 1: {field}" in out and "placeholder" in out


def test_kb_check_reports_an_entry_whose_sources_have_neither_link_nor_date(tmp_path, capsys):
    copy = _kb_copy(tmp_path)

    def strip(data):
        for source in data["sources"]:
            source.pop("url", None), source.pop("date", None), source.pop("date_deduced", None)

    _rewrite(copy / "cnss_ma" / "payment_channels.yml", strip)
    code, out = _kb_check_output(copy, capsys)
    assert code == 1 and "ERROR cnss_ma/payment_channels.yml: no source has a link or a date" in out
    assert out.count("ERROR") == 1  # nothing else in the copy is wrong


def test_kb_check_reports_an_entry_resting_on_weak_sources_only(tmp_path, capsys):
    copy = _kb_copy(tmp_path)
    # dependants keeps only its weak source, the old unofficial page written for salaried workers
    _rewrite(copy / "cnss_ma" / "dependants.yml",
             lambda data: data.__setitem__("sources", [s for s in data["sources"] if s.get("weak")]))
    code, out = _kb_check_output(copy, capsys)
    assert code == 1 and "ERROR cnss_ma/dependants.yml: every source is weak" in out


def _facts_domains(weak: bool) -> set[str]:
    """The sites the facts file cites, in its [source: ...] brackets, for facts it marks ⚠ FAIBLE
    (weak=True) or not."""
    lines = [line for line in _facts_text().splitlines() if ("⚠ FAIBLE" in line) == weak]
    cited = [bracket for line in lines for bracket in re.findall(r"\[source:([^\]]*)\]", line)]
    return {domain for bracket in cited for domain in _DOMAIN.findall(bracket.lower())}


def test_weak_markings_follow_the_facts_file():
    """A site the facts file cites only for weak facts is marked weak wherever the knowledge base
    cites it, and a source marked weak is one the facts file cites for a weak fact."""
    only_weak = _facts_domains(weak=True) - _facts_domains(weak=False)
    assert "pharmacie.ma" in only_weak
    weak_somewhere = _facts_domains(weak=True)
    for item in ENTRIES + list(KB.funds.values()):
        for source in item.sources:
            domains = set(_DOMAIN.findall(source.publisher.lower()))
            if domains & only_weak:
                assert source.weak, (item.fund, source.publisher)
            if source.weak:
                assert domains & weak_somewhere, (item.fund, source.publisher)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?؟])\s+|\s+-\s+|[:;]\s+", text) if s]


def test_the_assistant_never_claims_official_sources_only():
    """Most sources are press articles (16 of 79 official when audited): no answer may say otherwise."""
    claim = re.compile(r"(uniquement|seulement) (sur )?(des |les )?sources officielles"
                       r"|only (on )?official sources|المصادر الرسمية فقط|غير على المصادر الرسمية",
                       re.IGNORECASE)
    for entry in ENTRIES:
        for lang, text in entry.answer.items():
            assert not claim.search(text), (entry.fund, entry.topic, lang)
    rumours = KB.entry("cnss_ma", "rumours").answer
    assert "articles de presse" in rumours["fr"] and "press articles" in rumours["en"]
    assert "صحفية" in rumours["ar"] and "الجرايد" in rumours["ary"]


def test_generic_price_rule_keeps_if_one_exists_in_every_language():
    answer = KB.entry("cnss_ma", "health_coverage").answer
    expected = {"fr": "s'il en existe un", "ar": "إن وجد", "ary": "ايلا كان كاين", "en": "if one exists"}
    assert set(answer) == set(expected)
    for lang, words in expected.items():
        assert words in answer[lang], lang


@pytest.mark.parametrize("fund", FUNDS)
def test_debt_relief_warns_that_tunisia_s_amnesty_is_not_this_fund_s_in_every_language(fund):
    tunisia = {"fr": "tunisienne", "ar": "التونسي", "ary": "التونسية", "arq": "التونسية", "en": "Tunisia"}
    answer = KB.entry(fund, "debt_relief").answer
    assert {"fr", "ar", "en", {"cnss_ma": "ary", "casnos_dz": "arq"}[fund]} <= set(answer)
    for lang, text in answer.items():
        assert tunisia[lang] in text, lang


def test_achamil_conditions_are_all_stated_and_not_widened():
    answer = KB.entry("cnss_ma", "eligibility").answer
    assert all(w in answer["fr"] for w in ("RSU", "Tadamon", "aucun autre régime AMO"))
    assert all(w in answer["en"] for w in ("RSU", "Tadamon", "no other AMO"))
    assert all(w in answer["ar"] for w in ("السجل الاجتماعي الموحد", "تضامن", "أي نظام آخر للتأمين الإجباري"))
    assert all(w in answer["ary"] for w in ("السجل الاجتماعي الموحد", "تضامن", "نظام AMO آخر"))
    assert all("تأمين آخر" not in answer[lang] for lang in ("ar", "ary"))  # 'no other insurance'


def test_tns_late_payment_surcharges_are_not_stated_as_a_current_rule():
    """The facts file has the TNS surcharges as not found: only the closed 2023 waiver, or 'not available'."""
    answer = KB.entry("cnss_ma", "contribution_deadline").answer
    for lang, word, unknown in (("fr", "majoration", "pas disponible"), ("en", "surcharge", "not available")):
        for sentence in _sentences(answer[lang]):
            if word in sentence.lower():
                assert "2023" in sentence or unknown in sentence, sentence
    assert all("3939" in text for text in answer.values())


def test_casnos_30_june_is_attributed_to_a_former_director_in_every_language():
    entry = KB.entry("casnos_dz", "contribution_deadline")
    former = {"fr": "ancien directeur général", "ar": "مدير عام سابق", "arq": "مدير عام قديم",
              "en": "former CASNOS director general"}
    for lang, words in former.items():
        assert words in entry.answer[lang] and "2016-2017" in entry.answer[lang], lang
    assert "communications de la CASNOS" not in entry.answer["fr"]
    assert any("Acheuk" in s.title for s in entry.sources[:2])  # shown on the source line


def test_children_age_limits_are_told_only_as_strong_as_their_weak_source():
    answer = KB.entry("cnss_ma", "dependants").answer
    unofficial = {"fr": "non officielle", "ar": "غير رسمية", "ary": "ماشي رسمية", "en": "unofficial"}
    for lang, words in unofficial.items():
        assert "21" in answer[lang] and words in answer[lang] and "3939" in answer[lang], lang
    assert KB.entry("cnss_ma", "dependants").sources[0].official


def test_payment_channels_say_why_they_cite_a_closed_debt_measure():
    answer = KB.entry("cnss_ma", "payment_channels").answer
    assert "janvier 2024" in answer["fr"] and "close" in answer["fr"]
    assert "January 2024" in answer["en"] and "closed" in answer["en"]
    assert "يناير 2024" in answer["ar"] and "يناير 2024" in answer["ary"]


# Jargon a citizen will not know, and the few words that explain it wherever it appears.
JARGON = {
    "fr": [(r"\bRSU\b", "Registre social unifié"), (r"\bSNMG\b", "salaire national minimum garanti"),
           (r"\bSMIG\b", "salaire minimum"), (r"\bLFC\b", "loi de finances complémentaire"),
           (r"\bassiette", r"revenus? annuels? (que vous déclarez|déclarés)"),
           (r"organisme de liaison", "c'est-à-dire l'administration")],
    "en": [(r"\bRSU\b", "Unified Social Register"), (r"\bSNMG\b", "guaranteed national minimum wage"),
           (r"\bSMIG\b", "minimum wage"), (r"\bLFC\b|supplementary finance law", "mid-year"),
           (r"\bassiette", "(declared annual income|annual income you declare)"),
           (r"liaison body", "administration named")],
    "ar": [("السجل الاجتماعي الموحد", "مؤشر"), ("الأجر الوطني الأدنى المضمون|SNMG", "الحد الأدنى للأجور"),
           ("قانون المالية التكميلي", "ميزانية"), ("وعاء|أوعية", "(الدخل|المداخيل) السنوي"),
           ("هيئة الربط", "الإدارة التي يحددها")],
    "ary": [("السجل الاجتماعي الموحد", "مؤشر"), ("السميگ", "الأجر الأدنى"), ("هيئة الربط", "الإدارة اللي")],
    "arq": [(r"\bSNMG\b", "السميك"), (r"\bLFC\b", "قانون المالية التكميلي"), ("assiette", "الدخل")],
}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.fund}/{e.topic}")
def test_jargon_is_explained_where_it_appears(entry):
    for lang, text in entry.answer.items():
        for term, explanation in JARGON.get(lang, []):
            if re.search(term, text):
                assert re.search(explanation, text), (lang, term)


def test_jargon_explanations_are_present_where_the_audit_found_the_terms():
    assert "Registre social unifié" in KB.entry("cnss_ma", "eligibility").answer["fr"]
    assert "organisme de liaison" in KB.entry("cnss_ma", "registration").answer["fr"]
    for topic in ("debt_relief", "waiting_period"):
        assert "loi de finances complémentaire" in KB.entry("casnos_dz", topic).answer["fr"]
    amount = KB.entry("casnos_dz", "contribution_amount").answer["fr"]
    assert "assiette, c'est-à-dire" in amount and "salaire national minimum garanti" in amount


def test_the_re_read_arabic_and_darija_phrasings_are_gone():
    """The ungrammatical phrasings the audit found (issue 20) must not come back."""
    gone = [("casnos_dz", "eligibility", "ar", "ويُنتسب"),
            ("cnss_ma", "registration", "ar", "في مكتب قرب معتمد"),
            ("cnss_ma", "dependants", "ary", "واحد التقديم قديم"),
            ("casnos_dz", "contribution_amount", "arq", "الكاسنوس تتخلص")]
    for fund, topic, lang, phrasing in gone:
        assert phrasing not in KB.entry(fund, topic).answer[lang], (fund, topic, lang)
