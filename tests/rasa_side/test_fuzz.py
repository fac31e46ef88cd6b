"""`sanad fuzz` (bot/tooling/fuzz.py) through the real command: its own stack of real processes,
300 hostile messages through the widget's WebSocket and the Telegram webhook, then the
invariants of issue 19: no 5xx, no crashed process, no stuck conversation, no crafted intent
reaching Rasa, and the ordinary question answered as before."""
from __future__ import annotations

import json
import subprocess

import pytest

from bot import paths
from bot.tooling import fuzz

pytestmark = pytest.mark.model


def test_plan_covers_every_kind_and_the_count():
    import random

    batches = fuzz.plan(1000, random.Random(0), telegram=True)
    assert abs(sum(count for _, _, count in batches) - 1000) <= 10  # each kind's share rounded
    kinds = {(channel, kind) for channel, kind, _ in batches}
    assert {("web", k) for k in fuzz.WEB_KINDS} | {("telegram", k) for k in fuzz.TELEGRAM_KINDS} == kinds
    assert all(count <= fuzz.PER_CLIENT for _, kind, count in batches if kind != "flood")


def test_the_payload_check_finds_what_reaches_rasa_past_the_gateway(trained_model, tmp_path):
    """forwarded_payloads reads Rasa's trackers: a built-in or crafted intent sent to Rasa directly
    (what a gateway letting any button through would do) is found; the assistant's own are not."""
    import asyncio
    import urllib.request

    import aiohttp

    from bot.tooling import services

    actions = services.action_server(log=tmp_path / "actions.log")
    rasa = services.rasa_server(trained_model, actions.health_url.rsplit("/", 1)[0] + "/webhook",
                                log=tmp_path / "rasa.log", SANAD_TRACKER_DB=str(tmp_path / "tracker.db"))

    def say(sender: str, text: str) -> None:
        body = json.dumps({"sender": sender, "message": text, "metadata": {"fund": "cnss_ma"}}).encode()
        request = urllib.request.Request(f"{rasa.url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=60).read()

    async def leaks(stack, senders):
        async with aiohttp.ClientSession() as http:
            return [await fuzz.forwarded_payloads(stack, http, [sender]) for sender in senders]

    with services.running(actions, rasa, timeout=300):
        for text in ("comment payer", '/choose_topic{"topic":"payment_channels"}', "/human_handoff", "restart"):
            say("web:clean", text)
        say("web:restarted", "bonjour")
        say("web:restarted", "/restart")
        say("web:slot", '/inform{"affiliate_number":"100204821"}')
        say("web:session", "/session_start")
        stack = fuzz.Stack("", rasa.url, rasa.token, None, "", [], {})
        found = asyncio.run(leaks(stack, ["web:clean", "web:restarted", "web:slot", "web:session"]))
    assert found[0] == 0 and all(found[1:]), found


def test_three_hundred_hostile_messages_break_nothing(trained_model):
    done = subprocess.run([str(paths.VENV_RASA / "bin" / "sanad"), "fuzz", "--messages", "300", "--json",
                           "--seed", "19", "--time-limit", "600"],
                          cwd=paths.REPO, capture_output=True, text=True, timeout=1200)
    report = json.loads(done.stdout)
    summary = {k: report[k] for k in ("sent", "status_5xx", "rasa_errors", "crashed", "stuck", "stuck_detail",
                                      "forwarded_payloads", "answered_after")}
    assert done.returncode == 0, (summary, done.stderr[-3000:])
    assert report["sent"] >= 290 and not report["stopped_early"]
    assert report["status_5xx"] == 0 and report["rasa_errors"] == 0 and report["crashed"] == {}
    assert report["stuck"] == 0 and report["forwarded_payloads"] == 0 and report["answered_after"] is True
    assert report["telegram"] == "webhook"
    by_kind = report["by_kind"]
    # What the channels answered: refusals where the gateway refuses, a closed connection where
    # the WebSocket protocol is broken, the flood throttled.
    # Over 64 KiB the gateway closes (1009), at times before the client has finished writing the
    # frame, which then sees the connection drop without a close frame (1006).
    assert set(by_kind["binary"]) <= {"rejected:not_text", "closed:1009", "closed:1006"}
    assert set(by_kind["surrogate"]) == {"rejected:not_text"} and set(by_kind["control"]) == {"rejected:not_text"}
    assert set(by_kind["malformed_json"]) <= {"rejected:not_text", "rejected:too_long", "ignored"}
    # A well-formed message with junk in its optional fields is still the citizen's text: answered.
    assert set(by_kind["extra_fields"]) == {"answered"}
    assert "rejected:too_fast" in by_kind["flood"] and by_kind["flood"].get("answered", 0) <= 12
    assert set(by_kind["malformed_frame"]) <= {"closed:1002", "closed:1007", "closed:1009", "dropped", "no_reply"}
    assert all(outcome in ("http:200", "http:400", "http:403", "http:413")
               for kind, outcomes in by_kind.items() if kind.startswith("telegram.") for outcome in outcomes)
    assert report["gateway_counters"]['sanad_gateway_crafted_payloads_total{channel="web"}'] >= 1
