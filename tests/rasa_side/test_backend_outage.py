"""Fault test of issue 19 (item 2), shortened: the affiliate API goes down in the middle of a
balance look-up for DOWN_FOR seconds (a minute in the issue). Meanwhile the FAQ answers go on and
the look-up apologises with the fund's official channel; once the API is back, the same
conversation's look-up succeeds, with no process restarted. Real processes over HTTP."""
from __future__ import annotations

import json
import time
import urllib.request

import pytest

from bot.tooling import services, training
from tests.rasa_side.stack import Chat
from tests.rasa_side.test_balance_flow import BORN, NUMBER, PHONE

pytestmark = pytest.mark.model
DOWN_FOR = 20.0  # seconds


def ready(actions: services.Service) -> dict:
    with urllib.request.urlopen(actions.health_url + "/ready", timeout=10) as answer:
        return json.loads(answer.read())


def latest_code(outbox, phone: str) -> str:
    import re

    for path in sorted(outbox.glob("*.json"), reverse=True):
        message = json.loads(path.read_text(encoding="utf-8"))
        if message["to"] == phone:
            return re.search(r"\b(\d{6})\b", message["text"]).group(1)
    raise AssertionError(f"no SMS sent to {phone}")


def test_the_api_down_then_back_without_a_restart(trained_model, tmp_path):
    outbox = tmp_path / "outbox"
    backend = services.backend_server(log=tmp_path / "backend.log", SANAD_BACKEND_DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}",
                                      SANAD_BACKEND_SMS_OUTBOX_DIR=str(outbox))
    actions = services.action_server(log=tmp_path / "actions.log", SANAD_BACKEND_URL=backend.url)
    rasa = services.rasa_server(training.model_path("sanad"), actions.health_url.rsplit("/", 1)[0] + "/webhook",
                                log=tmp_path / "rasa.log", SANAD_TRACKER_DB=str(tmp_path / "tracker.db"))
    with services.running(backend, actions, rasa, timeout=300):
        pids = (actions.process.pid, rasa.process.pid)
        citizen = Chat(rasa.url, "cnss_ma")
        assert citizen.decision(citizen.say("je veux connaitre mon solde cnss"))["step"] == "affiliate_number"
        assert citizen.decision(citizen.say(NUMBER))["step"] == "birth_date"

        backend.stop()
        down_at = time.monotonic()
        apology = Chat.text(citizen.say(BORN))
        assert "ne répond pas" in apology and "3939" in apology  # the official channel
        other = Chat(rasa.url, "cnss_ma")
        while time.monotonic() - down_at < DOWN_FOR:  # the FAQ goes on all along
            assert other.decision(other.say("comment payer la cnss"))["decision"] == "answer"
            assert citizen.decision(citizen.say("ou payer ma cotisation"))["decision"] == "answer"
            time.sleep(2)
        assert ready(actions)["status"] == "ok" and ready(actions)["backend"] == "unreachable"

        backend.start()
        assert ready(actions)["backend"] == "ok"
        assert citizen.decision(citizen.say("je veux connaitre mon solde cnss"))["step"] == "affiliate_number"
        assert citizen.decision(citizen.say(NUMBER))["step"] == "birth_date"
        assert citizen.decision(citizen.say(BORN))["step"] == "otp_code"
        balance = Chat.text(citizen.say(latest_code(outbox, PHONE)))
        assert "•••••4821" in balance and "DH" in balance
        assert (actions.process.pid, rasa.process.pid) == pids and actions.restarts == rasa.restarts == 0
