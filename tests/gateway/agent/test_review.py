"""The turn log, the review loop and the dashboard (issue 17, item 3), through the console's HTTP API
with the stand-in grouping (tests/gateway/stubs.py review_groups; tests/rasa_side/test_review.py
runs Rasa's real route): what the log keeps of a turn, supervisors only and one fund each, no
personal data in the log, a group or an export, the export read by Rasa's own `rasa data validate`,
and the dashboard's figures on a crafted log."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text

from gateway.app.agent.db.models import Handoff, ReviewDecision, Turn
from gateway.app.agent.routes.review import CLARIFY_GRACE
from gateway.app.agent.turnlog import TurnLog, conversation_hash
from gateway.app.rasa_client import parse_replies
from tests.gateway.agent.conftest import DZ, MA, START
from tests.gateway.conftest import RASA_PYTHON, REPO
from tests.gateway.stubs import answer, clarify, faq_answer

GROUPS = "/agent/api/review/groups"
DECISIONS = "/agent/api/review/decisions"
EXPORT = "/agent/api/review/export.yml"
DASHBOARD = "/agent/api/dashboard"

# Personal data as citizens type it: affiliate numbers, birth dates, one-time codes, phone numbers.
PERSONAL = ["123 456 789", "123456789", "12/03/1980", "1980-03-12", "12 mars 1980", "482913",
            "0612345678", "+212 6 12 34 56 78", "١٠٠ ٢٠٤ ٨٢١", "0550 12 34 56"]


def declined(lang: str = "fr", script: str = "latn") -> list[dict]:
    return [{"recipient_id": "x", "text": "Je ne peux pas répondre à cette question."},
            {"recipient_id": "x", "custom": {"sanad": {"decision": "out_of_scope", "lang": lang,
                                                       "detected": {"lang": lang, "script": script}}}}]


def decided(decision: str, lang: str = "fr", **fields) -> list[dict]:
    return [{"recipient_id": "x", "text": "…"},
            {"recipient_id": "x", "custom": {"sanad": {"decision": decision, "lang": lang, **fields}}}]


class Feed:
    """The relay's calls of the turn log's observer, one citizen turn at a time."""

    def __init__(self, app, clock) -> None:
        self.log, self.clock = TurnLog(app.state.agent), clock

    def __call__(self, text: str, replies, fund: str = MA, conversation: str = "web:c1", channel: str = "web",
                 after: float = 60) -> None:
        self.clock.advance(after)
        turn = parse_replies(replies) if replies is not None else None
        asyncio.run(self.log.record_turn(channel, conversation, fund, text, turn))


@pytest.fixture
def feed(console_app, clock):
    return Feed(console_app, clock)


def rows(app) -> list[Turn]:
    with app.state.agent.db() as db:
        return db.scalars(select(Turn).order_by(Turn.id)).all()


def database_dump(app) -> str:
    with app.state.agent.db() as db:
        return "\n".join(str(db.execute(text(f"SELECT * FROM {table}")).all())
                         for table in ("agent_turns", "agent_review_decisions"))


def assert_no_personal_data(dump: str) -> None:
    for value in PERSONAL:
        assert value not in dump, value
    without_hashes_and_times = re.sub(r"[a-f0-9]{64}|\d{4}-\d\d-\d\d[ T][\d:.]+", "", dump)
    assert not re.search(r"\d{5,}", without_hashes_and_times), "a long number survived"


def supervisor(console, name: str = "sup_ma"):
    console.client.cookies.clear()
    console.clock.advance(30)  # a TOTP code is accepted once: the next sign-in needs the next one
    assert console.login(name).status_code == 200
    return console


# ---- the turn log ------------------------------------------------------------------------------

def test_each_turn_is_logged_with_its_decision_and_only_declined_or_unsettled_text_masked(console_app, feed):
    feed("comment payer ma cotisation, mon numéro 123 456 789", faq_answer())
    feed("quel temps fera-t-il demain ? appelez-moi au 0612345678", declined())
    feed("cotisation en retard", clarify())
    feed('/choose_topic{"topic":"payment_channels"}', faq_answer())  # the citizen chose: settled
    feed("خلاص التقاعد", clarify("ar"), conversation="tg:42", channel="telegram")
    feed("/human_handoff", decided("human_handoff", "ar"), conversation="tg:42", channel="telegram")  # rejected
    feed("bonjour", decided("greet"))
    feed("mon solde, né le 12 mars 1980", decided("account_balance", step="affiliate_number"))
    feed("le conseiller me répond", None)  # a person held the conversation: no assistant turn

    log = rows(console_app)
    assert [r.kind for r in log] == ["answer", "out_of_scope", "clarify", "answer", "clarify", "handoff",
                                     "small_talk", "balance", "agent"]
    assert [r.masked_text for r in log] == [
        None, "quel temps fera-t-il demain ? appelez-moi au […]", None, None, "خلاص التقاعد", None, None, None, None]
    assert [r.settled for r in log] == [None, None, True, None, False, None, None, None, None]
    assert log[0].topic == "payment_channels" and log[0].lang == "fr" and log[1].script == "latn"
    assert {r.channel for r in log} == {"web", "telegram"} and {r.fund for r in log} == {MA}
    key = console_app.state.agent.number_key
    assert log[0].conversation_hash == conversation_hash(key, "web", "web:c1") != log[4].conversation_hash
    dump = database_dump(console_app)
    assert "web:c1" not in dump and "tg:42" not in dump
    assert_no_personal_data(dump)


def test_the_gateways_relay_logs_each_turn_through_the_observer(console, rasa_stub):
    """create_app registers the turn log on the relay: a citizen's turn through the relay (as the
    widget's and Telegram's channels hand it over) lands in the log, masked."""
    from gateway.app.relay import Inbound

    rasa_stub.script = lambda sender, text, metadata: declined()
    relay = console.client.app.state.relay
    words = "quel temps demain ? mon numéro 123 456 789"
    inbound = Inbound(channel="web", conversation_id="web:relayed", fund=MA, text=words)
    message, refusal = console.client.portal.call(relay.admit, inbound)
    assert refusal is None
    console.client.portal.call(relay.answer, inbound, message)
    (row,) = rows(console.client.app)
    assert (row.channel, row.fund, row.kind, row.masked_text) == ("web", MA, "out_of_scope",
                                                                 "quel temps demain ? mon numéro […]")


def test_every_kind_of_personal_data_is_masked_before_it_is_kept(console, console_app, feed, rasa_stub):
    for n, value in enumerate(PERSONAL):
        feed(f"je veux savoir {value} merci", declined(), conversation=f"web:{n}")
        feed(f"{value} c'est pour la bourse", clarify(), conversation=f"tg:{n}", channel="telegram")
    feed("fin", None, after=CLARIFY_GRACE.total_seconds())
    kept = [r.masked_text for r in rows(console_app)][:-1]
    assert kept == ["je veux savoir […] merci", "[…] c'est pour la bourse"] * len(PERSONAL)
    assert_no_personal_data(database_dump(console_app))
    supervisor(console)
    groups = console.get(GROUPS)  # what the supervisor's screen and Rasa's grouping get
    assert groups.json()["pending"] == 2 * len(PERSONAL)
    assert_no_personal_data(groups.text)
    assert_no_personal_data(str(rasa_stub.clustered))


def test_a_failing_log_never_fails_the_relay(console_app, feed, monkeypatch, caplog):
    def broken():
        raise RuntimeError("database gone: 123 456 789")

    monkeypatch.setattr(console_app.state.agent, "db", broken)
    feed("mon numéro 123 456 789", declined())  # no exception reaches the relay
    assert "turn not logged (RuntimeError)" in caplog.text and "123" not in caplog.text


# ---- review: who sees what ---------------------------------------------------------------------

def test_agents_get_403_on_every_review_route(console, feed):
    feed("quel temps demain", declined())
    console.login("agent_ma")
    for path in (GROUPS, "/agent/api/review/intents", "/agent/api/review/decisions", EXPORT):
        response = console.get(path)
        assert response.status_code == 403 and response.json()["detail"]["code"] == "supervisors_only", path
    response = console.post(DECISIONS, {"turn_ids": [1], "outcome": "out_of_scope"})
    assert response.status_code == 403
    with console.client.app.state.agent.db() as db:
        assert db.scalars(select(ReviewDecision)).all() == []


def test_a_supervisor_never_sees_or_decides_the_other_funds_messages(console, feed, rasa_stub):
    feed("quel temps demain à rabat", declined(), fund=MA, conversation="web:ma")
    feed("quel temps demain à oran", declined(), fund=DZ, conversation="web:dz")
    feed("résultats du match", declined(), fund=DZ, conversation="web:dz")
    supervisor(console, "sup_ma")
    body = console.get(GROUPS).json()
    assert body["fund"] == MA and body["pending"] == 1
    assert [m["text"] for g in body["groups"] for m in g["messages"]] == ["quel temps demain à rabat"]
    assert rasa_stub.clustered == [["quel temps demain à rabat"]]  # the other fund's never left the database
    dz_ids = [r.id for r in rows(console.client.app) if r.fund == DZ]
    response = console.post(DECISIONS, {"turn_ids": dz_ids, "outcome": "out_of_scope"})
    assert response.status_code == 409 and response.json()["detail"]["code"] == "group_changed"

    supervisor(console, "sup_dz")
    dz = console.get(GROUPS).json()
    assert dz["fund"] == DZ and sorted(m["text"] for g in dz["groups"] for m in g["messages"]) == [
        "quel temps demain à oran", "résultats du match"]
    decision = console.post(DECISIONS, {"turn_ids": dz_ids, "outcome": "out_of_scope"}).json()
    supervisor(console, "sup_ma")
    assert console.get(EXPORT, params={"decision": decision["id"]}).status_code == 404
    assert console.get("/agent/api/review/decisions").json()["decisions"] == []
    assert "oran" not in console.get(EXPORT).text


# ---- review: groups, decisions, export ------------------------------------------------------------

def test_groups_by_meaning_with_counts_per_language(console, feed, rasa_stub, clock):
    feed("bourse étudiant", clarify(), conversation="web:6")  # never settled
    clock.advance(CLARIFY_GRACE.total_seconds())
    feed("cotisation enfant étudiant", declined(), conversation="web:1")
    feed("cotisation enfant étudiant", declined(), conversation="web:2")  # the same words: one text to group
    feed("cotisation de ma femme", declined(), conversation="web:3")
    feed("cotisation ديال المرا", declined("ary", "arab"), conversation="web:4")
    feed("météo demain", declined(), conversation="web:5")
    feed("comment payer", faq_answer(), conversation="web:7")  # answered: not for review
    feed("bourse", clarify(), conversation="web:8", after=5)  # just asked: the citizen may still choose
    supervisor(console)
    body = console.get(GROUPS).json()
    assert rasa_stub.clustered[-1] == ["météo demain", "cotisation ديال المرا", "cotisation de ma femme",
                                       "cotisation enfant étudiant", "bourse étudiant"]  # newest first
    assert body["pending"] == 6 and body["by_lang"] == {"fr": 5, "ary": 1} and not body["truncated"]
    first = body["groups"][0]
    assert first["size"] == 4 and first["by_lang"] == {"fr": 3, "ary": 1} and first["by_kind"] == {"declined": 4}
    assert first["representative"] == "cotisation ديال المرا"
    assert [g["size"] for g in body["groups"]] == [4, 1, 1]
    assert body["groups"][1]["by_kind"] == {"declined": 1} and body["groups"][2]["by_kind"] == {"unsettled": 1}
    clock.advance(CLARIFY_GRACE.total_seconds())
    later = console.get(GROUPS).json()
    assert later["pending"] == 7 and later["groups"][1]["representative"] == "bourse"  # now unsettled too
    assert console.get(GROUPS, params={"lang": "ary"}).json()["pending"] == 1


def test_a_group_is_exported_as_a_topic_or_out_of_scope_once(console, feed):
    feed("cotisation enfant étudiant 123 456 789", declined())
    feed("cotisation pour mon fils, né le 12/03/2004", declined())
    feed("cotisation pour mon fils, né le 12/03/2004", declined())
    feed("météo demain, appelez le 0612345678", declined())
    supervisor(console)
    groups = console.get(GROUPS).json()["groups"]
    family = [m["id"] for m in groups[0]["messages"]]
    weather = [m["id"] for m in groups[1]["messages"]]
    assert console.post(DECISIONS, {"turn_ids": family, "outcome": "intent", "intent": "no_such_topic"}
                        ).json()["detail"]["code"] == "unknown_intent"
    made = console.post(DECISIONS, {"turn_ids": family, "outcome": "intent", "intent": "dependants"})
    assert made.status_code == 201 and made.json()["examples"] == 3 and made.json()["intent"] == "dependants"
    again = console.post(DECISIONS, {"turn_ids": family, "outcome": "out_of_scope"})
    assert again.status_code == 409  # already decided: nothing changes
    mixed = console.post(DECISIONS, {"turn_ids": weather + family[:1], "outcome": "out_of_scope"})
    assert mixed.status_code == 409  # all or nothing
    assert console.post(DECISIONS, {"turn_ids": weather, "outcome": "out_of_scope"}).status_code == 201
    assert console.get(GROUPS).json()["groups"] == []

    export = console.get(EXPORT)
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/yaml")
    assert 'filename="sanad-review-cnss_ma-' in export.headers["content-disposition"]
    data = yaml.safe_load(export.text)
    assert data["version"] == "3.1"
    assert [(block["intent"], block["examples"].splitlines()) for block in data["nlu"]] == [
        ("dependants", ["- cotisation enfant étudiant …", "- cotisation pour mon fils, né le …"]),
        ("out_of_scope", ["- météo demain, appelez le …"])]
    one = yaml.safe_load(console.get(EXPORT, params={"decision": made.json()["id"]}).text)
    assert [block["intent"] for block in one["nlu"]] == ["dependants"]
    assert_no_personal_data(export.text)
    assert_no_personal_data(database_dump(console.client.app))
    listed = console.get("/agent/api/review/decisions").json()["decisions"]
    assert [(d["outcome"], d["intent"], d["examples"], d["supervisor"]) for d in listed] == [
        ("out_of_scope", "out_of_scope", 1, "sup_ma"), ("intent", "dependants", 3, "sup_ma")]


def test_the_topics_offered_are_the_knowledge_bases_and_the_domains(console):
    supervisor(console)
    offered = {i["intent"]: i["title"] for i in console.get("/agent/api/review/intents").json()["intents"]}
    domain = yaml.safe_load((REPO / "bot" / "domain.yml").read_text(encoding="utf-8"))
    assert set(offered) <= set(domain["intents"])
    assert offered["payment_channels"] == {"fr": "Où et comment payer", "ar": "أين وكيف أدفع"}
    assert "account_balance" in offered and "out_of_scope" not in offered  # out of scope is its own button


def test_the_grouping_unavailable_says_so(console, feed, rasa_stub):
    feed("quel temps demain", declined())
    supervisor(console)
    rasa_stub.down = True
    response = console.get(GROUPS)
    assert response.status_code == 503 and response.json()["detail"]["code"] == "review_unavailable"


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="needs the Rasa environment (.venvs/rasa)")
def test_the_export_passes_rasa_data_validate_beside_the_projects_data(console, feed, tmp_path):
    """The file a supervisor downloads, dropped into nlu_data/ beside the project's own training
    data, stories and rules: Rasa's `rasa data validate` accepts it (exit 0). Hostile texts
    included: entity-like brackets, YAML markers, line separators, right-to-left script."""
    for words in ("cotisation [enfant](topic) étudiant 123 456 789", "- ma femme: couverte ? # oui",
                  "cotisation\u2028pour ma fille", "واش ولادي مغطيين؟ {\"a\": 1}", "| > & * ! % @ `"):
        feed(words, declined())
    feed("quel temps demain", declined())
    supervisor(console)
    groups = console.get(GROUPS).json()["groups"]
    weather = [g for g in groups if g["representative"] == "quel temps demain"][0]
    family = [m["id"] for g in groups if g is not weather for m in g["messages"]]
    console.post(DECISIONS, {"turn_ids": family, "outcome": "intent", "intent": "dependants"})
    console.post(DECISIONS, {"turn_ids": [m["id"] for m in weather["messages"]], "outcome": "out_of_scope"})
    data = tmp_path / "data"
    shutil.copytree(REPO / "nlu_data", data / "nlu")
    shutil.copytree(REPO / "bot" / "data", data / "dialogue")
    (data / "nlu" / "review.yml").write_text(console.get(EXPORT).text, encoding="utf-8")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([str(RASA_PYTHON), "-m", "rasa", "data", "validate", "--data", str(data),
                             "--domain", str(REPO / "bot" / "domain.yml"), "--config", str(REPO / "bot" / "config.yml")],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    examples = yaml.safe_load((data / "nlu" / "review.yml").read_text(encoding="utf-8"))["nlu"][0]["examples"]
    assert "- cotisation (enfant)(topic) étudiant …" in examples.splitlines()


# ---- dashboard --------------------------------------------------------------------------------------

def crafted_log(feed, clock) -> None:
    """Three days of the CNSS's conversations, and one of the CASNOS's that must not count."""
    day = timedelta(days=1).total_seconds()
    clock.now = START - timedelta(days=2)
    feed("payer", faq_answer(), conversation="web:a")                                   # day 1, web, fr
    feed("payer ?", faq_answer(), conversation="web:a")
    feed("météo", declined(), conversation="web:a")
    feed("خلص", faq_answer("ary"), conversation="tg:b", channel="telegram")            # day 1, telegram
    clock.advance(day)
    feed("conseiller", decided("human_handoff"), conversation="web:a")                   # day 2: a again
    feed("retraite", decided("answer", topic="retirement"), conversation="web:c")
    feed("je suis là", None, conversation="web:a")                                       # the agent's turn
    clock.advance(day)
    feed("match ?", declined("ary", "arab"), conversation="tg:d", channel="telegram")    # day 3
    feed("bghit nhder m3a chi wa7ed", decided("human_handoff", "ary"), conversation="tg:d", channel="telegram")
    feed("payer", faq_answer(), fund=DZ, conversation="web:z")


def crafted_inbox(app, clock) -> None:
    """Handoffs of the last days: CNSS's answered after 30 s, 90 s and 5 min, one never answered,
    one before the window; a CASNOS one answered after 10 s."""
    def handoff(fund, created, wait):
        replied = None if wait is None else created + timedelta(seconds=wait)
        return Handoff(fund=fund, channel="web", conversation_id=f"web:h{created.timestamp()}{fund}", lang="fr",
                       reason="asked", status="closed" if replied else "waiting", created_at=created,
                       first_reply_at=replied)

    now = clock()
    with app.state.agent.db() as db:
        db.add_all([handoff(MA, now - timedelta(hours=30), 30), handoff(MA, now - timedelta(hours=2), 300),
                    handoff(MA, now - timedelta(hours=1), 90), handoff(MA, now - timedelta(minutes=5), None),
                    handoff(MA, now - timedelta(days=10), 5), handoff(DZ, now - timedelta(hours=1), 10)])
        db.commit()


def test_dashboard_figures_on_a_crafted_log(console, feed, clock):
    crafted_log(feed, clock)
    crafted_inbox(console.client.app, clock)
    console.login("agent_ma")
    body = console.get(DASHBOARD, params={"days": 4}).json()
    assert body["fund"] == MA and (body["since"], body["until"]) == ("2026-11-19", "2026-11-22")
    assert body["per_day"] == [{"day": "2026-11-19", "conversations": 0}, {"day": "2026-11-20", "conversations": 2},
                               {"day": "2026-11-21", "conversations": 2}, {"day": "2026-11-22", "conversations": 1}]
    assert body["conversations"] == 4 and body["turns"] == 9
    assert body["per_channel"] == {"telegram": 2, "web": 2}
    assert body["per_lang"] == {"fr": 2, "ary": 2}
    assert body["per_topic"] == {"payment_channels": 2, "retirement": 1}
    assert body["declined"] == 2 and body["fallback_rate"] == 0.25  # 2 of the assistant's 8 turns
    assert body["handoffs"] == 2 and body["handoff_rate"] == 0.5
    assert body["kinds"]["agent"] == 1
    assert body["inbox"] == {"entered": 4, "answered": 3} and body["median_wait_seconds"] == 90.0
    only_today = console.get(DASHBOARD, params={"days": 1}).json()
    assert only_today["conversations"] == 1 and only_today["per_day"] == [{"day": "2026-11-22", "conversations": 1}]
    assert only_today["inbox"] == {"entered": 3, "answered": 2} and only_today["median_wait_seconds"] == 195.0


def test_dashboard_is_per_fund_and_says_no_data(console, feed, clock):
    crafted_log(feed, clock)
    supervisor(console, "sup_dz")
    body = console.get(DASHBOARD, params={"days": 7}).json()
    assert body["fund"] == DZ and body["conversations"] == 1 and body["per_channel"] == {"web": 1}
    clock.advance(timedelta(days=30).total_seconds())
    console.client.cookies.clear()
    console.login("agent_dz")
    empty = console.get(DASHBOARD, params={"days": 7}).json()
    assert empty["conversations"] == 0 and empty["fallback_rate"] is None and empty["handoff_rate"] is None
    assert empty["inbox"] == {"entered": 0, "answered": 0} and empty["median_wait_seconds"] is None  # "no data"
    assert console.get(DASHBOARD, params={"days": 0}).status_code == 422
    assert console.get(DASHBOARD, params={"days": 93}).status_code == 422
