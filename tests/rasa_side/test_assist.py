"""Agent assist (issue 16, bot/assist.py): the route POST /webhooks/assist/rank through a real
Rasa server, `sanad assist` (one text and --cases) through the command, and the held-out
agent-style cases (tests/data/assist-heldout.yml) with floors."""
import json
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot import assist, paths
from bot.tooling import assist_cases
from bot.tooling import services
from bot.knowledge import TOPICS

HELDOUT = paths.REPO / "tests" / "data" / "assist-heldout.yml"
TUNE = paths.REPO / "tests" / "data" / "assist-tune.yml"
LANGS = ("fr", "ar", "ary", "arq", "en")
# Measured 2026-11-23 with models/sanad.tar.gz: top1 = top3 = 1.0 in every language (86 cases,
# 16 to 20 per language). A language may miss 2 of its cases first and 1 within three; below
# that is a regression (targets of issue 16: top1 >= 0.85, top3 >= 0.95).
MAX_TOP1_MISSES, MAX_TOP3_MISSES = 2, 1

FRENCH = "l'appelant veut savoir jusqu'à quel âge ses enfants restent couverts"
ARABIC = "المتصل يسأل عن سن التقاعد وعدد سنوات الاشتراك"
DARIJA = "واش نقدر نخلص الضمان فشي وكالة ولا غير فالأنترنيت؟"
NOTHING = "quelle équipe a gagné la coupe hier soir ?"


def cases(path: Path) -> list:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]


# --- without the model ---------------------------------------------------------------------------

def test_agent_cases_are_not_training_data():
    """The assist cases measure generalisation only if neither the NLU training examples nor the
    knowledge base's retrieval questions hold them, copied or lightly edited (the test of
    test_project_data.py for the evaluation sets)."""
    from bot.tooling.calibration import training_examples
    from bot.knowledge import load_knowledge_base
    from tests.rasa_side.leaks import comparable, near_copies

    written = [comparable(c["text"]) for path in (HELDOUT, TUNE) for c in cases(path)]
    kb = load_knowledge_base()
    known = [e["text"] for e in training_examples()] + [
        q for entry in kb.entries.values() for qs in entry.questions.values() for q in qs]
    leaked = near_copies(known, written)
    assert leaked == []


def test_heldout_cases_cover_every_language_kind_and_fund():
    heldout = cases(HELDOUT)
    for lang in LANGS:
        assert sum(c["lang"] == lang for c in heldout) >= 12, lang
    for lang in ("fr", "ar", "en"):
        assert {c["fund"] for c in heldout if c["lang"] == lang} == {"cnss_ma", "casnos_dz"}, lang
    for lang in ("ary", "arq"):
        assert {c["script"] for c in heldout if c["lang"] == lang} == {"arab", "latn"}, lang
    assert {c["expect"] for c in heldout} == set(TOPICS)
    assert not {c["text"] for c in heldout} & {c["text"] for c in cases(TUNE)}


def test_api_token_is_raspas_own_auth_token_else_the_environment(monkeypatch):
    monkeypatch.setenv(assist.TOKEN_ENV, "from-env")
    assert assist.rasa_api_token(["run", "--enable-api", "--auth-token=-starts-with-dash", "--model", "m"]) == "-starts-with-dash"
    assert assist.rasa_api_token(["run", "-t", "short"]) == "short"
    assert assist.rasa_api_token(["run", "--model", "m"]) == "from-env"
    monkeypatch.delenv(assist.TOKEN_ENV)
    assert assist.rasa_api_token(["run"]) == ""


def test_bearer_check():
    assert assist.bearer_token_is_valid("Bearer s3cret", "s3cret")
    assert assist.bearer_token_is_valid("bearer s3cret", "s3cret")
    for header in (None, "", "Bearer", "Bearer wrong", "Basic s3cret", "s3cret"):
        assert not assist.bearer_token_is_valid(header, "s3cret"), header
    assert not assist.bearer_token_is_valid("Bearer ", "")  # no token configured: nothing passes


@pytest.mark.parametrize("body, complaint", [
    (["not", "an", "object"], "JSON object"),
    ({"fund": "cnss_ma"}, "`text`"),
    ({"text": "   ", "fund": "cnss_ma"}, "`text`"),
    ({"text": "x" * (assist.MAX_TEXT_CHARS + 1), "fund": "cnss_ma"}, "longer"),
    ({"text": "taux amo", "fund": "cnss_tn"}, "unknown fund"),
    ({"text": "taux amo"}, "unknown fund"),
    ({"text": "taux amo", "fund": "cnss_ma", "langs": "fr"}, "`langs`"),
    ({"text": "taux amo", "fund": "cnss_ma", "langs": ["de"]}, "`langs`"),
])
def test_bad_requests_say_what_is_wrong(body, complaint):
    with pytest.raises(assist.BadRequest, match=complaint):
        assist.check_request(body)


def test_answer_language_fallback_chain():
    assert assist.answer_language("ary", ["fr", "ar", "ary"]) == "ary"
    assert assist.answer_language("arq", ["fr", "ar", "ary"]) == "ar"  # Darija -> MSA
    assert assist.answer_language("en", ["fr", "ar"]) == "fr"  # else French


def test_a_measure_past_its_end_is_not_shown_as_current():
    import datetime as dt

    entry = assist.knowledge_base().entry("cnss_ma", "debt_relief")
    ended = entry.copy(update={"valid_until": dt.date(2024, 4, 30)})
    view = assist.entry_view(ended, 0.9, assist.Language("fr", "latn"), ["ar"], today=dt.date(2025, 1, 1))
    assert all("2024-04-30" in text for text in view["answer"].values()) and set(view["answer"]) == {"fr", "ar"}
    assert view["answer"]["fr"] != entry.answer["fr"]
    current = assist.entry_view(ended, 0.9, assist.Language("fr", "latn"), [], today=dt.date(2024, 4, 30))
    assert current["answer"] == {"fr": entry.answer["fr"]}


def test_ranking_follows_the_combined_score_and_says_when_nothing_matches():
    from bot.nlu.decision import Thresholds

    t = Thresholds(intent_min=0.4, kb_floor=0.86, kb_span=0.03, intent_weight=0.5, clarify=0.25)
    kb = [{"topic": "retirement", "score": 0.90}, {"topic": "eligibility", "score": 0.88}]
    parse = {"intent_ranking": [{"name": "eligibility", "confidence": 0.6}, {"name": "retirement", "confidence": 0.3}],
             "sanad": {"lang": "fr", "kb_ranking": kb}}
    ranked = assist.ranked_topics(parse, t)
    assert [r["topic"] for r in ranked][:2] == ["retirement", "eligibility"]  # the KB outweighs a 0.6 intent
    assert ranked[0]["score"] > ranked[1]["score"]
    # Topics no score supports tie at 0: the entries' retrieval cosine orders them (contact comes
    # after retirement in TOPICS).
    tail = [{"topic": "eligibility", "score": 0.90}, {"topic": "contact", "score": 0.70}, {"topic": "retirement", "score": 0.69}]
    parse = {"intent_ranking": [{"name": "eligibility", "confidence": 0.9}], "sanad": {"lang": "fr", "kb_ranking": tail}}
    assert [(r["topic"], r["score"]) for r in assist.ranked_topics(parse, t)][1:] == [("contact", 0.0), ("retirement", 0.0)]
    declined = {"intent_ranking": [{"name": "out_of_scope", "confidence": 0.9}], "sanad": {"lang": "fr", "kb_ranking": kb}}
    assert assist.ranked_topics(declined, t) == []
    weak = {"intent_ranking": [{"name": "greet", "confidence": 0.9}], "sanad": {"lang": "fr", "kb_ranking": tail[1:]}}
    assert assist.ranked_topics(weak, t) == []


def test_hit_rates_count_an_empty_list_right_only_out_of_scope():
    results = [{"expect": "contact", "ranked": ["contact"]}, {"expect": "retirement", "ranked": ["contact", "retirement"]},
               {"expect": "eligibility", "ranked": []}, {"expect": "out_of_scope", "ranked": []}]
    assert assist_cases.hit_rates(results) == {"n": 4, "top1": 0.5, "top3": 0.75, "in_scope_empty": 0.3333,
                                         "out_of_scope_empty": 1.0}


@pytest.mark.parametrize("args, complaint", [
    (["taux amo", "--langs", "fr,de"], "`langs`"),
    ([], "either TEXT or --cases"),
    (["taux amo", "--cases", str(HELDOUT)], "either TEXT or --cases"),
])
def test_command_refuses_bad_input_before_loading_the_model(args, complaint):
    result = subprocess.run([sys.executable, "-m", "bot.tooling.cli", "assist", *args], capture_output=True, text=True,
                            cwd=paths.REPO, timeout=120)
    assert result.returncode == 2 and complaint in result.stderr and result.stdout == ""


# --- through a real Rasa server and the command ----------------------------------------------------

@pytest.fixture(scope="module")
def rasa(tmp_path_factory, trained_model):
    """A Rasa server with the assist channel; no action server: ranking runs no action."""
    tmp = tmp_path_factory.mktemp("assist")
    server = services.rasa_server(trained_model, "http://127.0.0.1:9/webhook", token="assist-test-token",
                                  log=tmp / "rasa.log", SANAD_TRACKER_DB=str(tmp / "tracker.db"))
    with services.running(server):
        yield server, tmp / "tracker.db"


def post(url: str, body, token=None, raw: bytes = None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/webhooks/assist/rank", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def run_cli(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "bot.tooling.cli", "assist", *args, "--json"], capture_output=True,
                            text=True, cwd=paths.REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.model
def test_route_refuses_a_request_without_the_token(rasa):
    server, _ = rasa
    body = {"text": FRENCH, "fund": "cnss_ma"}
    for token in (None, "wrong-token", ""):
        status, answer = post(server.url, body, token)
        assert status == 401 and "entries" not in answer, token


@pytest.mark.model
def test_route_refuses_a_bad_body_or_an_unknown_fund(rasa):
    server, _ = rasa
    for body, raw in (({"text": FRENCH, "fund": "cnss_tn"}, None), ({"fund": "cnss_ma"}, None),
                      ({"text": FRENCH, "fund": "cnss_ma", "langs": ["xx"]}, None), (None, b"{not json")):
        status, answer = post(server.url, body, server.token, raw=raw)
        assert status == 400 and answer["error"], (body, raw)


def assert_suggestion(entry, topic, answer_langs):
    assert entry["topic"] == topic and 0 < entry["score"] <= 1 and entry["title"]
    assert set(entry["answer"]) == set(answer_langs) and all(entry["answer"].values())
    assert entry["sources"] and all({"title", "publisher", "date", "url"} == set(s) for s in entry["sources"])
    assert entry["reviewed"][:2] == "20"


@pytest.mark.model
def test_route_ranks_a_french_note_with_answers_in_both_languages(rasa):
    server, _ = rasa
    status, answer = post(server.url, {"text": FRENCH, "fund": "cnss_ma", "langs": ["ar"]}, server.token)
    assert status == 200 and (answer["lang"], answer["script"]) == ("fr", "latn")
    assert 1 <= len(answer["entries"]) <= 3
    assert_suggestion(answer["entries"][0], "dependants", {"fr", "ar"})
    scores = [e["score"] for e in answer["entries"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.model
def test_route_ranks_an_arabic_summary_for_the_agents_fund(rasa):
    server, _ = rasa
    status, answer = post(server.url, {"text": ARABIC, "fund": "casnos_dz", "langs": ["fr"]}, server.token)
    assert status == 200 and (answer["lang"], answer["script"]) == ("ar", "arab")
    assert_suggestion(answer["entries"][0], "retirement", {"ar", "fr"})
    assert answer["entries"][0]["title"] == "Retraite"  # in the agent's interface language
    entry = assist.knowledge_base().entry("casnos_dz", "retirement")  # the agent's fund's entry, not CNSS's
    assert answer["entries"][0]["answer"] == {"ar": entry.answer["ar"], "fr": entry.answer["fr"]}


@pytest.mark.model
def test_route_answers_darija_in_darija(rasa):
    server, _ = rasa
    status, answer = post(server.url, {"text": DARIJA, "fund": "cnss_ma", "langs": ["fr"]}, server.token)
    assert status == 200 and answer["lang"] == "ary"
    first = answer["entries"][0]
    assert first["topic"] == "payment_channels" and first["reply_lang"] == "ary"
    assert set(first["answer"]) == {"ary", "fr"}


@pytest.mark.model
def test_route_shows_nothing_when_nothing_matches(rasa):
    server, _ = rasa
    status, answer = post(server.url, {"text": NOTHING, "fund": "cnss_ma", "langs": ["fr"]}, server.token)
    assert status == 200 and answer["entries"] == []


@pytest.mark.model
def test_ranking_keeps_no_conversation(rasa):
    server, tracker_db = rasa
    for text in (FRENCH, ARABIC):
        assert post(server.url, {"text": text, "fund": "cnss_ma"}, server.token)[0] == 200
    with sqlite3.connect(tracker_db) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert all(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0 for table in tables), tables


@pytest.mark.model
def test_command_gives_the_routes_ranking(rasa):
    server, _ = rasa
    from_cli = run_cli(ARABIC, "--fund", "casnos_dz", "--langs", "fr")
    status, from_route = post(server.url, {"text": ARABIC, "fund": "casnos_dz", "langs": ["fr"]}, server.token)
    assert status == 200 and from_cli == from_route
    assert set(from_cli) == {"lang", "script", "entries"}


@pytest.fixture(scope="module")
def heldout_report(trained_model):
    return run_cli("--cases", str(HELDOUT))


@pytest.mark.model
def test_cases_report_follows_the_contract(heldout_report):
    report = heldout_report
    assert {"n", "top1", "top3", "by_lang", "latency_ms", "results"} <= set(report)
    assert report["n"] == len(report["results"]) == len(cases(HELDOUT))
    assert set(report["by_lang"]) == set(LANGS)
    assert all({"n", "top1", "top3"} <= set(f) for f in report["by_lang"].values())
    assert set(report["latency_ms"]) == {"p50", "p95"}
    for result in report["results"]:
        assert {"text", "expect", "ranked"} <= set(result) and len(result["ranked"]) <= 3
        assert set(result["ranked"]) <= set(TOPICS)


@pytest.mark.model
def test_heldout_floors_per_language(heldout_report):
    for lang in LANGS:
        results = [r for r in heldout_report["results"] if r["lang"] == lang]
        top1_misses = sum(r["ranked"][:1] != [r["expect"]] for r in results)
        top3_misses = sum(r["expect"] not in r["ranked"] for r in results)
        assert top1_misses <= MAX_TOP1_MISSES and top3_misses <= MAX_TOP3_MISSES, (
            lang, [(r["text"], r["expect"], r["ranked"]) for r in results if r["ranked"][:1] != [r["expect"]]])
