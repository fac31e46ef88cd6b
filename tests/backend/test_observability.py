"""The affiliate API's metrics (latency by route, verifications by outcome), its readiness, and
its JSON log lines with personal data masked (a real process)."""
from __future__ import annotations

import json
import time
import urllib.request

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from backend.app.core.config import Settings
from backend.app.main import create_app
from bot.tooling import services


def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_with_the_verification_flow(api, client, demos):
    demo = demos["cnss_ma:trader"]
    started = api.start(demo)
    assert started.status_code == 201
    assert api.confirm(started.json()["verification_id"], api.wrong(api.code_sent_to(demo))).status_code == 403
    assert api.start(demo, "1901-01-01", conversation="other").status_code == 403
    client.get("/no/such/100204821")  # a probed path: one "unmatched" series, never the path
    found = samples(client)
    assert value(found, "sanad_backend_verifications_total", step="start", outcome="code_sent") == 1
    assert value(found, "sanad_backend_verifications_total", step="start", outcome="refused") == 1
    assert value(found, "sanad_backend_verifications_total", step="code", outcome="invalid_code") == 1
    assert value(found, "sanad_backend_request_seconds_count", method="POST", route="/v1/verifications") == 2
    assert value(found, "sanad_backend_requests_total", method="POST",
                 route="/v1/verifications/{verification_id}/confirm", status="403") == 1
    assert value(found, "sanad_backend_requests_total", method="GET", route="unmatched", status="404") == 1
    assert not any("100204821" in str(labels) or demo.number in str(labels) for _, labels in found)


def test_readiness_says_whether_the_database_answers(client, tmp_path):
    assert client.get("/health/ready").json() == {"status": "ok"}
    # A database never migrated (as while `manage migrate` has not run); no lifespan: nothing
    # else touches it.
    broken = create_app(Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}"))
    unready = TestClient(broken).get("/health/ready")
    assert unready.status_code == 503 and unready.json() == {"status": "database_unavailable"}
    assert TestClient(broken).get("/health").status_code == 200  # alive all the same


def test_json_log_lines_mask_personal_data(tmp_path):
    """SANAD_LOG_FORMAT=json: every line is one JSON object, uvicorn's access lines included, and
    a number in a request's path is masked."""
    log = tmp_path / "backend.log"
    backend = services.backend_server(log=log, SANAD_LOG_FORMAT="json",
                                      SANAD_BACKEND_DATABASE_URL=f"sqlite:///{tmp_path / 'backend.sqlite3'}",
                                      SANAD_BACKEND_SMS_OUTBOX_DIR=str(tmp_path / "sms"))
    with services.running(backend, timeout=60):
        try:
            urllib.request.urlopen(f"{backend.url}/v1/affiliates/100204821", timeout=10)
        except urllib.error.HTTPError:
            pass
        deadline = time.monotonic() + 10
        while "/v1/affiliates/" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if "/v1/affiliates/" in r["message"]]
    assert access and all(r["service"] == "backend" and r["level"] for r in records)
    assert "100204821" not in log.read_text() and "[…]" in access[0]["message"]
    assert all(line.startswith("{") for line in lines)
