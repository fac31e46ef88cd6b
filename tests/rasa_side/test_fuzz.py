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
    assert set(by_kind["binary"]) <= {"rejected:not_text", "closed:1009"}
    assert set(by_kind["surrogate"]) == {"rejected:not_text"} and set(by_kind["control"]) == {"rejected:not_text"}
    assert set(by_kind["malformed_json"]) <= {"rejected:not_text", "rejected:too_long", "ignored"}
    assert "rejected:too_fast" in by_kind["flood"] and by_kind["flood"].get("answered", 0) <= 12
    assert set(by_kind["malformed_frame"]) <= {"closed:1002", "closed:1007", "closed:1009", "dropped", "no_reply"}
    assert all(outcome in ("http:200", "http:400", "http:403", "http:413")
               for kind, outcomes in by_kind.items() if kind.startswith("telegram.") for outcome in outcomes)
    assert report["gateway_counters"]['sanad_gateway_crafted_payloads_total{channel="web"}'] >= 1
