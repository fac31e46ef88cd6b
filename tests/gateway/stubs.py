"""Stand-ins for Rasa in the gateway's unit tests, and a recorder around the real client."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from gateway.app.rasa_client import BotTurn, RasaClient, RasaUnavailable, parse_replies


LONG_PAYLOAD = '/choose_topic{"topic":"a_topic_whose_payload_is_longer_than_sixty_four_bytes_for_sure"}'


def answer(text: str, lang: str = "fr", **sanad: Any) -> list[dict[str, Any]]:
    return [{"recipient_id": "x", "text": text},
            {"recipient_id": "x", "custom": {"sanad": {"decision": "answer", "lang": lang, **sanad}}}]


def faq_answer(lang: str = "fr") -> list[dict[str, Any]]:
    return [
        {"recipient_id": "x", "text": "Vous pouvez payer en ligne : https://www.cnss.ma/."},
        {"recipient_id": "x", "text": "Source : FAQ, cnss.ma, 2024-01 (fiche vérifiée le 2026-11-22)"},
        {"recipient_id": "x", "custom": {"sanad": {
            "decision": "answer", "lang": lang, "topic": "payment_channels", "reviewed": "2026-11-22",
            "sources": [{"title": "FAQ", "publisher": "cnss.ma", "date": "2024-01",
                         "url": "https://www.cnss.ma/fr/faq-page/8", "official": True},
                        {"title": "Article", "publisher": "libe.ma", "date": "2024-01", "url": None,
                         "official": False}]}}},
    ]


def clarify(lang: str = "fr") -> list[dict[str, Any]]:
    return [
        {"recipient_id": "x", "text": "Votre question porte sur :", "buttons": [
            {"title": "Où et comment payer", "payload": '/choose_topic{"topic":"payment_channels"}'},
            {"title": "Un sujet au nom très long " * 3,
             "payload": LONG_PAYLOAD},
            {"title": "Aucune de ces réponses", "payload": "/human_handoff"}]},
        {"recipient_id": "x", "custom": {"sanad": {"decision": "clarify", "lang": lang,
                                                   "offered": ["payment_channels", "other"]}}},
    ]


@dataclass
class ScriptedRasa:
    """Answers with `script(sender, text, metadata)` (a list of Rasa replies); `down=True` makes it
    unreachable (Rasa never got the message), `lost=True` fail after delivery."""
    script: Callable[[str, str, dict[str, Any]], list[dict[str, Any]]] = lambda s, t, m: answer(f"echo: {t}")
    delay: float = 0.0
    down: bool = False
    lost: bool = False
    received: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # delivered messages
    refused: int = 0

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> BotTurn:
        if self.down:
            self.refused += 1
            raise RasaUnavailable("unreachable", delivered=False)
        self.received.append((sender, text, dict(metadata)))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.lost:
            raise RasaUnavailable("no answer", delivered=True)
        return parse_replies(self.script(sender, text, metadata))

    async def ready(self) -> bool:
        return not self.down

    async def aclose(self) -> None:
        pass


class RecordingRasa(RasaClient):
    """The real client, remembering what it sent (sender, text, metadata)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> BotTurn:
        self.sent.append((sender, text, dict(metadata)))
        return await super().send(sender, text, metadata)

    def senders(self, prefix: Optional[str] = None) -> list[str]:
        return [s for s, _, _ in self.sent if prefix is None or s.startswith(prefix)]
