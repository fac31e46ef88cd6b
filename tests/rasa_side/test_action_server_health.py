"""The action server's liveness and readiness (actions/server.py): both open without Rasa's
credential; readiness follows the knowledge base, and names the affiliate API's state without
depending on it (the FAQ answers go on without the API)."""
from __future__ import annotations

import asyncio
import json
import urllib.request

import aiohttp

from actions import server
from bot.tooling import services


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_ready_without_the_affiliate_api_and_saying_so(tmp_path):
    dead = f"http://127.0.0.1:{services.free_port()}"
    backend = services.backend_server(log=tmp_path / "backend.log",
                                      SANAD_BACKEND_DATABASE_URL=f"sqlite:///{tmp_path / 'backend.db'}",
                                      SANAD_BACKEND_SMS_OUTBOX_DIR=str(tmp_path / "sms"))
    without = services.action_server(log=tmp_path / "actions-1.log", SANAD_BACKEND_URL=dead)
    beside = services.action_server(log=tmp_path / "actions-2.log", SANAD_BACKEND_URL=backend.url)
    with services.running(backend, without, beside, timeout=120):
        base = without.health_url.rsplit("/", 1)[0]
        assert get(f"{base}/health") == (200, {"status": "ok"})
        status, body = get(f"{base}/health/ready")
        assert status == 200 and body["status"] == "ok" and body["backend"] == "unreachable"
        assert body["knowledge_entries"] > 0
        status, body = get(f"{beside.health_url.rsplit('/', 1)[0]}/health/ready")
        assert status == 200 and body["backend"] == "ok"
        assert get(f"{base}/actions")[0] == 401  # the other routes still need Rasa's credential


def test_not_ready_when_the_knowledge_base_cannot_be_loaded(monkeypatch):
    def broken():
        raise ValueError("knowledge/cnss_ma/x.yml: not YAML")

    monkeypatch.setattr("actions.context.knowledge_base", broken)

    async def scenario() -> tuple[int, dict]:
        app = server.create_app("actions", "rasa-token")
        port = services.free_port()
        started = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
        await started.startup()
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/health/ready") as answer:
                    return answer.status, await answer.json()
        finally:
            started.close()
            await started.wait_closed()

    assert asyncio.run(scenario()) == (503, {"status": "knowledge_base_unavailable"})
