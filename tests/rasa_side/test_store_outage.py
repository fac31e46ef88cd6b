"""Fault tests of issue 19 (item 2): the conversation store (PostgreSQL) or the lock store (Redis)
of the scaled topology unreachable for a few seconds, in the middle of a balance look-up.

Rasa alone would take a conversation it cannot read for a new one and answer 200 from it, keeping
the turn in its process memory only (its FailSafeTrackerStore): the citizen inside the form would
be answered as if it had never begun. Sanad's REST channel answers 503 instead (bot/store_outage.py):
nothing of the turn was kept, and the gateway, which reads a 503 as "Rasa never got it", tells the
citizen in their language and sends the message again. Once the store is back the same message is
answered where the conversation was, with no process restarted.

The stores are reached through a forwarder the test cuts (tests/tcp_cut.py): the machine's own
PostgreSQL and Redis stay up for everything else."""
from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from bot.tooling import services, training
from tests.rasa_side.stack import Chat
from tests.rasa_side.test_balance_flow import BORN, NUMBER
from tests.rasa_side.test_conversations import post_raw
from tests.tcp_cut import CuttableProxy

pytestmark = pytest.mark.model
OUTAGE = 5.0  # seconds


def post(rasa_url: str, sender: str, text: str) -> tuple[int, object]:
    return post_raw(rasa_url, json.dumps({"sender": sender, "message": text, "metadata": {"fund": "cnss_ma"}}).encode())


def until_kept(rasa_url: str, sender: str, text: str, within: float = 30.0) -> tuple[object, int]:
    """Send the message again until it is answered, as the gateway does: (replies, 503s seen)."""
    refused, deadline = 0, time.monotonic() + within
    while time.monotonic() < deadline:
        status, body = post(rasa_url, sender, text)
        if status == 200:
            return body, refused
        assert status == 503, (status, body)
        refused += 1
        time.sleep(0.5)
    raise AssertionError(f"{text!r} still refused after {within} s")


def user_turns(rasa: services.Service, sender: str) -> int:
    url = f"{rasa.url}/conversations/{sender}/tracker?token={rasa.token}&include_events=ALL"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return sum(1 for event in json.loads(answer.read())["events"] if event["event"] == "user")


@pytest.mark.parametrize("store", ["postgresql", "redis"])
def test_a_store_down_for_seconds_refuses_clearly_and_recovers_without_a_restart(trained_model, stores, tmp_path,
                                                                                   store):
    target = (stores.postgres_host, stores.postgres_port) if store == "postgresql" else (stores.redis_host,
                                                                                         stores.redis_port)
    proxy = CuttableProxy(*target)
    port_variable = "SANAD_POSTGRES_PORT" if store == "postgresql" else "SANAD_REDIS_PORT"
    backend = services.backend_server(log=tmp_path / "backend.log",
                                      SANAD_BACKEND_DATABASE_URL=f"sqlite:///{tmp_path / 'backend.db'}",
                                      SANAD_BACKEND_SMS_OUTBOX_DIR=str(tmp_path / "outbox"))
    actions = services.action_server(log=tmp_path / "actions.log", SANAD_BACKEND_URL=backend.url)
    rasa = services.rasa_server(training.model_path("sanad"), actions.health_url.rsplit("/", 1)[0] + "/webhook",
                                log=tmp_path / "rasa.log", endpoints=services.SCALED_ENDPOINTS, SANAD_FUND="cnss_ma",
                                **{**stores.rasa_env(), port_variable: str(proxy.port)})
    try:
        with services.running(backend, actions, rasa, timeout=300):
            citizen = f"test-{uuid.uuid4().hex}"
            assert Chat.decision(until_kept(rasa.url, citizen, "je veux connaitre mon solde cnss")[0])["step"] \
                == "affiliate_number"
            assert Chat.decision(until_kept(rasa.url, citizen, NUMBER)[0])["step"] == "birth_date"

            with proxy.down():
                down_until = time.monotonic() + OUTAGE
                while time.monotonic() < down_until:
                    status, body = post(rasa.url, citizen, BORN)
                    assert status == 503, (status, body)  # never a 200 from a conversation begun anew
                    assert "cannot be reached" in body["error"] and BORN not in json.dumps(body)
                    status, _ = post(rasa.url, f"test-{uuid.uuid4().hex}", "comment payer la cnss")
                    assert status == 503  # nothing can be kept: every conversation is told so
                    time.sleep(1)

            replies, refused_after = until_kept(rasa.url, citizen, BORN)
            assert Chat.decision(replies)["step"] == "otp_code"  # where the conversation was
            assert refused_after <= 3  # back within seconds: stale connections are replaced
            assert user_turns(rasa, citizen) == 3  # the refused attempts left nothing behind
            assert rasa.process.poll() is None and rasa.restarts == 0
    finally:
        proxy.close()
