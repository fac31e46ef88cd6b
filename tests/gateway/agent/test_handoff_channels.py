"""Live handoff on Telegram (the real python-telegram-bot Application against the local Bot API
stand-in) and in front of the trained assistant (real Rasa and action server): the agent's side
through the console's real HTTP API."""
from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway.app.messages import MESSAGES
from gateway.app.rasa_client import RasaClient
from tests.gateway.agent.conftest import PASSWORD
from tests.gateway.agent.test_handoff import OPEN_HOURS, Citizen, citizen_script, inbox, texts
from tests.gateway.fake_telegram import user
from tests.gateway.telegram_harness import telegram_gateway

AMINA = user(1001, "fr", "Amina")


class AsyncConsole:
    """The console's API as a signed-in browser uses it (cookie and CSRF token), in the app's loop."""

    def __init__(self, app) -> None:
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        self.csrf = None

    async def login(self, name: str) -> None:
        response = await self.client.post("/agent/api/auth/login", json={"name": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]

    async def get(self, path: str) -> Any:
        response = await self.client.get(f"/agent/api{path}")
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, body: Any = None) -> Any:
        response = await self.client.post(f"/agent/api{path}", json=body, headers={"X-CSRF-Token": self.csrf})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def agent_options(agent_settings, clock, backend_app):
    clock.now = OPEN_HOURS
    return {"agent_settings": agent_settings, "clock": clock,
            "backend_transport": httpx.ASGITransport(app=backend_app)}


async def test_telegram_citizen_reaches_an_agent_and_comes_back_to_the_assistant(agent_options, accounts, rasa_stub):
    rasa_stub.script = citizen_script
    async with telegram_gateway(rasa_stub, agent=agent_options) as (telegram, app):
        agent = AsyncConsole(app)
        await agent.login("agent_ma")
        await telegram.send_text(AMINA, "je veux parler à un conseiller")
        [promise] = await telegram.wait_messages(AMINA["id"], 1)
        assert promise["text"] == MESSAGES["handoff_waiting"]["fr"].format(position=1, minutes=4)
        [item] = (await agent.get("/inbox"))["items"]
        assert (item["channel"], item["lang"], item["gone"]) == ("telegram", "fr", False)
        await agent.post(f"/inbox/{item['id']}/claim")
        [claimed] = await telegram.wait_messages(AMINA["id"], 1, since=1)
        assert claimed["text"] == MESSAGES["handoff_claimed"]["fr"]

        sent = len(rasa_stub.received)
        await telegram.send_text(AMINA, "c'est pour ma retraite")
        assert await citizen_line(agent, item["id"], "c'est pour ma retraite")
        assert len(rasa_stub.received) == sent  # held: not to the assistant

        await agent.post(f"/inbox/{item['id']}/reply", {"text": "Bonjour, je regarde votre dossier."})
        [reply] = await telegram.wait_messages(AMINA["id"], 1, since=2)
        assert reply["text"] == f"{MESSAGES['agent_label']['fr']}\nBonjour, je regarde votre dossier."

        await agent.post(f"/inbox/{item['id']}/hand-back")
        [back] = await telegram.wait_messages(AMINA["id"], 1, since=3)
        assert back["text"] == MESSAGES["handoff_returned"]["fr"]
        await telegram.send_text(AMINA, "comment payer ?")
        answer = await telegram.wait_messages(AMINA["id"], 1, since=4)
        assert answer[0]["text"].startswith("Vous pouvez payer en ligne")
        assert rasa_stub.received[-1][1] == "comment payer ?"
        await agent.client.aclose()


async def citizen_line(agent: AsyncConsole, handoff_id: int, text: str, timeout: float = 10.0) -> bool:
    """Whether the citizen's `text` reaches the transcript within `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        lines = (await agent.get(f"/inbox/{handoff_id}"))["transcript"]
        if any(line["sender"] == "citizen" and line["text"] == text for line in lines):
            return True
        await asyncio.sleep(0.05)
    return False


# --- in front of the trained assistant --------------------------------------------------------------

@pytest.fixture
def real_console_app(rasa, agent_options):
    from gateway.app.main import create_app
    from tests.gateway.conftest import make_settings

    client = RasaClient(rasa.url, timeout=30, token=rasa.token)
    app = create_app(make_settings(RASA_URL=rasa.url, RASA_TOKEN=rasa.token), rasa=client, agent=agent_options)
    yield app
    app.state.agent.engine.dispose()


def test_with_the_trained_assistant_a_balance_look_up_is_stopped_and_not_resumed_after_hand_back(
        real_console_app, accounts, rasa):
    from fastapi.testclient import TestClient

    from tests.gateway.agent.conftest import Console

    with TestClient(real_console_app) as client:
        agent = Console(client, accounts, real_console_app.state.agent.clock)
        assert agent.login("agent_ma").status_code == 200
        with Citizen(client) as citizen:
            asked = citizen.ask("je veux connaître mon solde")
            assert asked["turn"]["sanad"]["decision"] == "account_balance"  # the form asks the number
            handoff = citizen.ask("je veux parler à un conseiller")
            assert handoff["turn"]["sanad"]["decision"] == "human_handoff"
            assert texts(handoff)[-1] == MESSAGES["handoff_waiting"]["fr"].format(position=1, minutes=4)
            [item] = inbox(agent)
            agent.post(f"/agent/api/inbox/{item['id']}/claim")
            citizen.until("handoff")
            assert citizen.ask("vous êtes là ?")["type"] == "forwarded"
            agent.post(f"/agent/api/inbox/{item['id']}/reply", {"text": "Oui, je vous écoute."})
            assert citizen.until("agent")["text"] == "Oui, je vous écoute."
            agent.post(f"/agent/api/inbox/{item['id']}/hand-back")
            assert citizen.until("handoff")["status"] == "returned"
            answered = citizen.ask("comment payer mes cotisations cnss ?")
        conversation = f"web:{citizen_session(client, citizen)}"
    sanad = answered["turn"]["sanad"]
    assert sanad["decision"] == "answer" and "step" not in sanad  # answered; the form did not come back
    user_texts = rasa.user_texts(conversation)
    assert "vous êtes là ?" not in user_texts  # held messages never reached Rasa
    assert user_texts[-1] == "comment payer mes cotisations cnss ?"


def citizen_session(client, citizen: Citizen) -> str:
    return client.post("/api/session", json={"token": citizen.token}).json()["session_id"]
