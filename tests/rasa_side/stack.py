"""The whole Rasa-side system as real processes for conversation tests: the affiliate API
(FastAPI env, its own SQLite file and SMS outbox), the action server and the Rasa server (REST
channel, redacting SQLite tracker store), each logging to a file the tests can scan."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.tooling import services


@dataclass
class Stack:
    rasa_url: str
    backend_url: str
    outbox: Path
    tracker_db: Path
    logs: Path
    actions_url: str = ""

    def latest_code(self, phone: str) -> str:
        for path in sorted(self.outbox.glob("*.json"), reverse=True):
            message = json.loads(path.read_text(encoding="utf-8"))
            if message["to"] == phone:
                return re.search(r"\b(\d{6})\b", message["text"]).group(1)
        raise AssertionError(f"no SMS sent to {phone}")


def start(tmp: Path, backend_env: dict | None = None, backend_url: str | None = None):
    """Yield a Stack; `backend_url` points the actions at an existing (or dead) backend instead."""
    logs, outbox, tracker_db = tmp / "logs", tmp / "outbox", tmp / "tracker.db"
    logs.mkdir(parents=True, exist_ok=True)
    backend = None
    if backend_url is None:
        # The conversation tests verify the same demo affiliates many times within minutes: the
        # SMS limit (3 codes per affiliate and conversation in 15 min) is tested in tests/backend.
        backend = services.backend_server(
            log=logs / "backend.log", SANAD_BACKEND_DATABASE_URL=f"sqlite:///{tmp / 'backend.db'}",
            SANAD_BACKEND_SMS_OUTBOX_DIR=str(outbox),
            **{"SANAD_BACKEND_SMS_MAX_PER_AFFILIATE": "100", **(backend_env or {})})
        backend_url = backend.url
    actions = services.action_server(log=logs / "actions.log", SANAD_BACKEND_URL=backend_url)
    from bot.tooling import training

    rasa = services.rasa_server(training.model_path("sanad"), actions.health_url.rsplit("/", 1)[0] + "/webhook",
                                log=logs / "rasa.log", SANAD_TRACKER_DB=str(tracker_db))
    with services.running(*[s for s in (backend, actions, rasa) if s]):
        yield Stack(rasa.url, backend_url, outbox, tracker_db, logs, actions.health_url.rsplit("/", 1)[0])


class Chat:
    def __init__(self, url: str, fund: str, metadata: dict | None = None):
        self.url, self.fund, self.sender = url, fund, f"test-{uuid.uuid4().hex}"

    def say(self, text: str, **metadata) -> list[dict]:
        import urllib.request

        body = json.dumps({"sender": self.sender, "message": text, "metadata": {"fund": self.fund, **metadata}}).encode()
        request = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            replies = json.loads(response.read())
        assert replies, f"no reply to {text!r}"
        return replies

    @staticmethod
    def decision(replies: list[dict]) -> dict:
        return next(r["custom"]["sanad"] for r in replies if (r.get("custom") or {}).get("sanad"))

    @staticmethod
    def text(replies: list[dict]) -> str:
        return "\n".join(r.get("text") or "" for r in replies)


