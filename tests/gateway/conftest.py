"""Fixtures of the gateway tests.

- `rasa`: the trained assistant, started once per test session as real processes (the action
  server and `rasa run` with the REST channel), on free loopback ports. Tests that use it skip
  when models/sanad.tar.gz is missing (`make model` builds it).
- `GatewayServer`: the gateway served by uvicorn in a thread on a real port (browser tests),
  stoppable and restartable on the same port to cut the connection for real.
- Playwright drives Debian's Chromium (/usr/bin/chromium): never a downloaded browser (see the
  `browser` fixture of test_widget_browser.py).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# Every gateway's agent console (the relay asks its handoff desk about each turn) uses a database
# of this test run, never var/agent.sqlite3; the console's own tests give each test its own.
os.environ.setdefault("SANAD_GATEWAY_AGENT_DATABASE_URL",
                      f"sqlite:///{tempfile.mkdtemp(prefix='sanad-gateway-tests-')}/agent.sqlite3")

import uvicorn  # noqa: E402

from gateway.app.config import Settings  # noqa: E402
from gateway.app.main import create_app  # noqa: E402

MODEL = REPO / "models" / "sanad.tar.gz"
RASA_PYTHON = REPO / ".venvs" / "rasa" / "bin" / "python"
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium") if Path(p).exists()), None)
TEST_SECRET = "gateway-tests-session-secret"


from bot.tooling.services import free_port  # noqa: E402


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"SESSION_SECRET": TEST_SECRET, "RASA_URL": "http://127.0.0.1:9",
                              "FUND": "cnss_ma"}
    values.update(overrides)
    return Settings(**values)


# --- Rasa, once per session ---------------------------------------------------------------------

@dataclass
class RasaProcesses:
    url: str
    token: str
    logs: Path

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        quoted = urllib.parse.quote(conversation_id, safe=":")  # Rasa does not decode %3A
        with urllib.request.urlopen(f"{self.url}/conversations/{quoted}/tracker?token={self.token}",
                                    timeout=10) as response:
            return json.loads(response.read())

    def user_texts(self, conversation_id: str) -> list[str]:
        return [e.get("text") for e in self.tracker(conversation_id)["events"] if e["event"] == "user"]


@pytest.fixture(scope="session")
def rasa(tmp_path_factory: pytest.TempPathFactory) -> RasaProcesses:
    """The processes `sanad run` starts (bot/tooling/services.py), with their logs in a temporary folder
    and a conversation store of their own (the redacting SQLite store of bot/endpoints.yml)."""
    from bot.tooling import services

    if not MODEL.exists() or not RASA_PYTHON.exists():
        pytest.skip("needs the trained model and the Rasa environment (`make model`)")
    work = tmp_path_factory.mktemp("rasa")
    token = "gateway-tests-rasa-token"
    actions = services.action_server(log=work / "actions.log")
    rasa = services.rasa_server(MODEL, actions.health_url.rsplit("/", 1)[0] + "/webhook", token=token,
                                log=work / "rasa.log", SANAD_TRACKER_DB=str(work / "tracker.db"))
    with services.running(actions, rasa):
        yield RasaProcesses(rasa.url, token, work)


# Messages the assistant answers with a clarifying question (buttons). A message that only names
# the fund gets a topic menu whenever the classifier would decline it (decision.names_only_the_fund);
# whether it declines or answers depends on the trained model, so several are tried.
CLARIFY_CANDIDATES = ("الامو", "AMO", "amo", "assurance amo", "التغطية", "la cnss", "cnss", "الضمان")


@pytest.fixture(scope="session")
def clarifying_message(rasa: RasaProcesses) -> str:
    for index, text in enumerate(CLARIFY_CANDIDATES):
        body = json.dumps({"sender": f"probe-clarify-{index}", "message": text,
                           "metadata": {"fund": "cnss_ma"}}).encode()
        request = urllib.request.Request(f"{rasa.url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            replies = json.loads(response.read())
        decisions = [r["custom"]["sanad"].get("decision") for r in replies
                     if isinstance(r.get("custom"), dict) and "sanad" in r["custom"]]
        if "clarify" in decisions and sum(len(r.get("buttons") or []) for r in replies) >= 2:
            return text
    # A failure, not a skip: the clarification tests of both channels would otherwise stop running.
    pytest.fail(f"the trained model answers none of {CLARIFY_CANDIDATES} with a clarification")


# --- the gateway on a real port (browser tests) -------------------------------------------------

class GatewayServer:
    """The gateway in a uvicorn thread. `restart()` builds a fresh app (as a new process would:
    no memory of sessions) on the same port."""

    def __init__(self, settings_factory: Callable[[], Settings], port: Optional[int] = None,
                 rasa: Optional[Any] = None) -> None:
        self.settings_factory = settings_factory
        self.rasa = rasa  # a stand-in shared by every start; None: the real client of the settings
        self.port = port or free_port()
        self.server: Optional[uvicorn.Server] = None
        self.thread: Optional[threading.Thread] = None
        self.app = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "GatewayServer":
        self.app = create_app(self.settings_factory(), rasa=self.rasa)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1, ws_max_size=64 * 1024)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"gateway-{self.port}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server and self.thread:
            self.server.should_exit = True
            self.thread.join(15)
            self.server = self.thread = None

    def restart(self) -> None:
        self.stop()
        self.start()


# --- browser ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def docs_dir() -> Path:
    path = REPO / "docs"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def serve():
    """serve(rasa_stub, **settings) -> a started GatewayServer, stopped after the test."""
    servers: list[GatewayServer] = []

    def start(rasa_stub: Optional[Any] = None, **overrides: Any) -> GatewayServer:
        server = GatewayServer(lambda: make_settings(**overrides), rasa=rasa_stub).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
