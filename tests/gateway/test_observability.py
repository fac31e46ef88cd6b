"""The gateway's observability: decisions, handoffs and crafted payloads counted after real
WebSocket turns (bounded labels), and its JSON log lines with personal data masked (a real
process started as `sanad run` starts it)."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.tooling import services
from tests.gateway.stubs import ScriptedRasa, answer, clarify, faq_answer
from tests.gateway.test_web_socket import Chat, new_session


def samples(url: str) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scripted(sender: str, text: str, metadata: dict) -> list[dict]:
    if text == "ou payer":
        return faq_answer("fr")
    if text == "cotisation":
        return clarify("ar")
    if text == "mon solde":
        return answer("Votre numéro d'affilié ?", decision="account_balance", step="affiliate_number")
    # What a hostile client would like a label to hold: never a series of its own.
    return answer("?", lang="xx-evil", decision="<script>", detected={"lang": "a" * 200})


async def test_decisions_by_kind_language_and_fund_move_after_turns(serve):
    server = serve(ScriptedRasa(script=scripted))
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        for text in ("ou payer", "cotisation", "anything", "mon solde"):
            await chat.until("bot", await chat.say(text))
        await chat.until("bot", await chat.say("/restart", button=True))
    found = samples(server.url)
    decisions = "sanad_gateway_decisions_total"
    assert value(found, decisions, channel="web", kind="answer", lang="fr", fund="cnss_ma") == 1
    assert value(found, decisions, channel="web", kind="clarify", lang="ar", fund="cnss_ma") == 1
    assert value(found, decisions, channel="web", kind="other", lang="other", fund="cnss_ma") == 2
    assert value(found, "sanad_gateway_crafted_payloads_total", channel="web") == 1
    assert value(found, decisions, channel="web", kind="balance", lang="fr", fund="cnss_ma") == 1
    assert value(found, "sanad_gateway_balance_steps_total", channel="web", fund="cnss_ma",
                 step="affiliate_number") == 1
    assert value(found, "sanad_gateway_rasa_seconds_count", channel="web") == 5
    assert not any("evil" in str(labels) or "script" in str(labels) for _, labels in found)


async def test_a_turn_that_opens_a_live_handoff_is_counted(serve):
    handoff = answer("Un conseiller va vous répondre.", decision="human_handoff",
                     handoff={"status": "waiting", "position": 1})
    server = serve(ScriptedRasa(script=lambda s, t, m: handoff))
    async with Chat(server.url, new_session(server.url)["token"]) as chat:
        await chat.until("bot", await chat.say("un conseiller"))
    found = samples(server.url)
    assert value(found, "sanad_gateway_decisions_total", channel="web", kind="handoff", lang="fr",
                 fund="cnss_ma") == 1
    assert value(found, "sanad_gateway_handoffs_total", channel="web", fund="cnss_ma", status="waiting") == 1


def test_json_log_lines_mask_personal_data(tmp_path):
    """SANAD_LOG_FORMAT=json: every line of the gateway's log is one JSON object (uvicorn's
    access lines included) and a number in a request's path is masked."""
    log = tmp_path / "gateway.log"
    gateway = services.gateway_server("http://127.0.0.1:9", "cnss_ma", "rasa-token", log=log,
                                      SANAD_LOG_FORMAT="json",
                                      SANAD_GATEWAY_AGENT_DATABASE_URL=f"sqlite:///{tmp_path / 'agent.sqlite3'}")
    with services.running(gateway, timeout=60):
        try:
            urllib.request.urlopen(f"{gateway.url}/affiliate/100204821", timeout=10)
        except urllib.error.HTTPError:
            pass
        assert urllib.request.urlopen(f"{gateway.url}/health", timeout=10).status == 200
        deadline = time.monotonic() + 10
        while "/affiliate/" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    text = log.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.strip()]  # each line is JSON
    access = [r for r in records if "/affiliate/" in r["message"]]
    assert access and "[…]" in access[0]["message"] and "100204821" not in text
    assert {r["service"] for r in records} == {"gateway"}
