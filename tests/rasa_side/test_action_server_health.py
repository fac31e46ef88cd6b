"""The action server's liveness and readiness (actions/server.py): both open without Rasa's
credential; readiness follows the knowledge base, and names the affiliate API's state without
depending on it (the FAQ answers go on without the API)."""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

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



def test_metrics_count_action_calls_and_balance_results_without_personal_data(tmp_path):
    """/metrics is open like the health checks; a call is counted under its action when the domain
    has it (else "other"), with its status; a balance look-up cancelled inside the form is counted
    under its fund; nothing of the tracker (the affiliate number in a slot) reaches the page."""
    tracker = {"sender_id": "metrics-test", "slots": {"affiliate_number": "100204821"}, "events": [],
               "latest_message": {"text": "annuler", "intent": {"name": "cancel"},
                                  "metadata": {"fund": "casnos_dz", "lang": "fr"}},
               "active_loop": {"name": "balance_form"}, "paused": False, "followup_action": None,
               "latest_action_name": "action_listen"}
    actions = services.action_server(log=tmp_path / "actions.log", SANAD_ACTIONS_TOKEN="rasa-token")
    statuses = []
    with services.running(actions, timeout=120):
        base = actions.health_url.rsplit("/", 1)[0]
        for action, token in (("action_cancel_balance", "rasa-token"), ("action_cancel_balance", None),
                              ("utter_unheard_of_9f3", "rasa-token")):
            body = {"next_action": action, "sender_id": "metrics-test", "tracker": tracker, "domain": {},
                    "version": "3.6.2"}
            headers = {"Content-Type": "application/json",
                       **({"Authorization": f"Bearer {token}"} if token else {})}
            request = urllib.request.Request(f"{base}/webhook", json.dumps(body).encode(), headers)
            try:
                statuses.append(urllib.request.urlopen(request, timeout=30).status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        page = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(page) for sample in family.samples}

    def count(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert statuses == [200, 401, 404]
    assert count("sanad_actions_runs_total", action="action_cancel_balance", status="200") == 1
    assert count("sanad_actions_runs_total", action="action_cancel_balance", status="401") == 1
    assert count("sanad_actions_runs_total", action="other", status="404") == 1  # not its made-up name
    assert count("sanad_actions_balance_results_total", fund="casnos_dz", result="cancelled") == 1
    assert count("sanad_actions_run_seconds_count", action="action_cancel_balance") == 2
    assert "utter_unheard_of_9f3" not in page and "100204821" not in page and "metrics-test" not in page
