"""The scaled topology of `sanad run --scaled N` (issue 19, items 1 and 2): two Rasa instances on
one PostgreSQL tracker store and one Redis lock store, the gateway in front of both
(SANAD_GATEWAY_RASA_URLS), two gateway processes sharing their state in Redis
(SANAD_GATEWAY_REDIS_URL), real processes over HTTP and the widget's real WebSocket.

kill -9 of the instance a citizen's conversation is on, and of the action server, in the middle of
the balance form: the next message is answered by the other instance with the form where it was
(the conversation in PostgreSQL, the affiliate number in the actions' Redis vault), nothing lost,
nothing answered twice. PostgreSQL and Redis are this machine's (SANAD_TEST_POSTGRES_URL,
SANAD_TEST_REDIS_URL); the tests skip when they cannot be reached, unless SANAD_REQUIRE_POSTGRES=1 /
SANAD_REQUIRE_REDIS=1 (CI) make them fail."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import urllib.request
import zlib

import pytest

from bot import paths
from bot.tooling import services, training
from bot.tooling.run import gateway_scaling, rasa_instances
from tests.rasa_side.scaled import Widget
from tests.rasa_side.test_backend_outage import latest_code
from tests.rasa_side.test_balance_flow import BORN, NUMBER, PHONE

pytestmark = pytest.mark.model
def step(event: dict) -> str:
    assert event["type"] == "bot", event
    return event["turn"]["sanad"].get("step")


def text(event: dict) -> str:
    return "\n".join(m["text"] for m in event["turn"]["messages"])


def user_texts(rasa: services.Service, conversation_id: str) -> list[str]:
    """The user turns stored in the shared tracker store (any instance reads the same)."""
    url = f"{rasa.url}/conversations/{conversation_id}/tracker?token={rasa.token}&include_events=ALL"
    with urllib.request.urlopen(url, timeout=30) as answer:
        tracker = json.loads(answer.read())
    return [event.get("text") for event in tracker["events"] if event["event"] == "user"]


def test_a_killed_rasa_instance_loses_nothing_of_a_balance_look_up(trained_model, stores, tmp_path):
    outbox = tmp_path / "outbox"
    backend = services.backend_server(log=tmp_path / "backend.log",
                                      SANAD_BACKEND_DATABASE_URL=f"sqlite:///{tmp_path / 'backend.db'}",
                                      SANAD_BACKEND_SMS_OUTBOX_DIR=str(outbox))
    actions = services.action_server(log=tmp_path / "actions.log", SANAD_BACKEND_URL=backend.url,
                                     SANAD_REDIS_URL=stores.redis_url())  # as `sanad run --scaled` does
    token = "scaled-test-token"
    rasas = rasa_instances(training.model_path("sanad"), actions.health_url.rsplit("/", 1)[0] + "/webhook", token,
                           "cnss_ma", services.free_port(), tmp_path, stores, count=2)
    # Two gateway processes on the same Redis, as behind the fund's load balancer.
    gateway, other_gateway = (services.gateway_server(rasas[0].url, "cnss_ma", token, log=tmp_path / f"gateway-{i}.log",
                                                      **gateway_scaling(rasas, stores)) for i in (1, 2))
    with services.running(backend, actions, rasas, [gateway, other_gateway], timeout=300):
        # A citizen whose conversation the gateway sends to the first instance (RasaClient.instances_for).
        citizen = next(w for w in (Widget(gateway.url) for _ in range(20))
                       if zlib.crc32(w.conversation_id.encode()) % 2 == 0)
        assert step(asyncio.run(citizen.say("je veux connaitre mon solde cnss"))) == "affiliate_number"
        # The number: sent to one gateway, the phone's connection lost at once, the widget back on
        # the other gateway sending it again (same client id): answered there, sent to Rasa once.
        assert asyncio.run(citizen.say(NUMBER, client_id="number-0001", leave_after_received=True))["type"] \
            == "received"
        assert step(asyncio.run(citizen.say(NUMBER, via=other_gateway.url, client_id="number-0001"))) == "birth_date"

        doomed, survivor = rasas
        doomed.process.send_signal(signal.SIGKILL)  # kill -9: no goodbye, no flush
        doomed.process.wait(timeout=30)
        actions.process.send_signal(signal.SIGKILL)  # the action server too: the number is in Redis's vault
        actions.process.wait(timeout=30)
        actions.start(timeout=60)

        assert step(asyncio.run(citizen.say(BORN, via=other_gateway.url))) == "otp_code"  # where the form was
        balance = asyncio.run(citizen.say(latest_code(outbox, PHONE)))
        assert "•••••4821" in text(balance) and "DH" in text(balance)
        other = Widget(gateway.url)  # a new conversation, whichever instance it hashes to
        assert asyncio.run(other.say("comment payer la cnss"))["turn"]["sanad"]["decision"] == "answer"

        # Each message reached Rasa once and was answered once.
        answered = [e for e in citizen.events if e["type"] == "bot"]
        assert len(answered) == 4 and len({e["client_id"] for e in answered}) == 4  # the number once
        assert not [e for e in citizen.events if e["type"] in ("retry", "rejected")]
        stored = user_texts(survivor, citizen.conversation_id)
        assert len(stored) == 4  # the number, date and code are masked there: their count is what matters
        assert all(process.poll() is None for process in (survivor.process, gateway.process, other_gateway.process))


def test_scaled_run_says_in_one_line_when_a_store_cannot_be_reached(tmp_path):
    env = {**os.environ, "SANAD_POSTGRES_PORT": "1", "SANAD_RASA_PORT": str(services.free_port())}
    done = subprocess.run([str(paths.VENV_RASA / "bin" / "sanad"), "run", "--scaled", "2", "--no-chat"],
                          cwd=paths.REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("sanad run --scaled: PostgreSQL at 127.0.0.1:1 cannot be reached")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
