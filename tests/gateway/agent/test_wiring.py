"""`sanad run`'s processes (bot/tooling/services.py): the affiliate API and the gateway started as real
processes share the console's credential, so that a balance look-up on behalf works out of the box."""
from __future__ import annotations

import io

import httpx

from bot.tooling import services
from gateway.app.agent import manage
from gateway.app.agent.config import AgentSettings
from tests.gateway.agent.conftest import MA, PASSWORD


def test_the_console_reads_a_balance_through_the_started_api(tmp_path, demos, monkeypatch):
    console_db = f"sqlite:///{tmp_path / 'agent.sqlite3'}"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert manage.main(["agents", "create", "amina", "--fund", MA, "--role", "agent", "--password-stdin"],
                       settings=AgentSettings(DATABASE_URL=console_db)) == 0
    backend = services.backend_server(log=tmp_path / "backend.log",
                                      SANAD_BACKEND_DATABASE_URL=f"sqlite:///{tmp_path / 'backend.sqlite3'}",
                                      SANAD_BACKEND_SMS_OUTBOX_DIR=str(tmp_path / "sms"))
    gateway = services.gateway_server("http://127.0.0.1:9", MA, "rasa-token", log=tmp_path / "gateway.log",
                                      SANAD_GATEWAY_AGENT_DATABASE_URL=console_db,
                                      SANAD_GATEWAY_AGENT_BACKEND_URL=backend.url)
    with services.running(backend, gateway, timeout=60):
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            signed_in = client.post("/agent/api/auth/login", json={"name": "amina", "password": PASSWORD})
            assert signed_in.status_code == 200, signed_in.text
            demo = demos[f"{MA}:trader"]
            response = client.post("/agent/api/balance-lookups", headers={"X-CSRF-Token": signed_in.json()["csrf_token"]},
                                   json={"affiliate_number": demo.number, "identity_check": "document_at_counter",
                                         "reason": "Guichet: demande de solde"})
            assert response.status_code == 200, response.text
            assert response.json()["balance"]["affiliate_ref"].endswith(demo.number[-4:])
