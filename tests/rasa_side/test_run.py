"""`sanad run`, the README's first command, as a fund's IT team would run it under a service
manager: it comes up, answers over HTTP, and a SIGTERM stops it with all its child services."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from bot import paths, services

pytestmark = pytest.mark.model


@pytest.fixture()
def sanad_run(trained_model, tmp_path):
    ports = {name: services.free_port() for name in ("SANAD_BACKEND_PORT", "SANAD_ACTIONS_PORT",
                                                     "SANAD_GATEWAY_PORT", "rasa")}
    env = {**os.environ, "SANAD_VAR_DIR": str(tmp_path), "SANAD_TRACKER_DB": str(tmp_path / "tracker.db"),
           "SANAD_BACKEND_DATABASE_URL": f"sqlite:///{tmp_path / 'backend.db'}",
           "SANAD_BACKEND_SMS_OUTBOX_DIR": str(tmp_path / "outbox"),
           **{k: str(v) for k, v in ports.items() if k.startswith("SANAD_")}}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--no-chat", "--rasa-port", str(ports["rasa"])],
                               cwd=paths.REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:
            if line.startswith("Sanad is up"):
                break
        else:
            pytest.fail(f"sanad run ended before it was up (exit {process.wait()})")
        yield process, ports
    finally:
        if process.poll() is None:
            process.kill()


def test_sanad_run_answers_then_stops_with_its_services_on_sigterm(sanad_run):
    process, ports = sanad_run
    body = json.dumps({"sender": "it-check", "message": "comment payer la cnss en ligne",
                       "metadata": {"fund": "cnss_ma"}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{ports['rasa']}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        replies = json.loads(response.read())
    assert any("Source" in (r.get("text") or "") for r in replies), replies
    assert all(not services.port_is_free(port) for port in ports.values())

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    deadline = time.monotonic() + 20
    while any(not services.port_is_free(port) for port in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [name for name, port in ports.items() if not services.port_is_free(port)], "child services outlived sanad run"
