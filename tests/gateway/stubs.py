"""Stand-ins for Rasa in the gateway's unit tests, and a recorder around the real client."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from gateway.app.rasa_client import BotTurn, RasaClient, RasaUnavailable, parse_replies


LONG_PAYLOAD = '/choose_topic{"topic":"a_topic_whose_payload_is_longer_than_sixty_four_bytes_for_sure"}'


class MonotonicClock:
    """A stand-in for time.monotonic that moves only when a test sets `now`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


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
    assisted: list[tuple[str, str, list[str]]] = field(default_factory=list)  # assist rankings asked
    clustered: list[list[str]] = field(default_factory=list)  # texts sent to the review's grouping

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

    async def assist_rank(self, text: str, fund: str, langs: list[str],
                          timeout: Optional[float] = None) -> dict[str, Any]:
        if self.down:
            raise RasaUnavailable("unreachable", delivered=False)
        self.assisted.append((text, fund, list(langs)))
        if self.delay:
            await asyncio.sleep(self.delay)
        return assist_ranking(text, fund, langs)

    async def review_cluster(self, texts: list[str], timeout: Optional[float] = None) -> list[dict[str, Any]]:
        if self.down:
            raise RasaUnavailable("unreachable", delivered=False)
        self.clustered.append(list(texts))
        return review_groups(texts)

    async def aclose(self) -> None:
        pass


# --- agent assist (bot/assist.py's POST /webhooks/assist/rank) -----------------------------------

def assist_entry(fund: str, topic: str, score: float, words: str, langs: list[str]) -> dict[str, Any]:
    """One suggestion as bot/assist.py shapes it; the title and answers name the fund, so that a
    test sees whose entries came back."""
    answer = {"fr": f"[{fund}] réponse {topic}", "ar": f"[{fund}] جواب {topic}"}
    return {"topic": topic, "score": score, "title": f"[{fund}] {topic}", "reply_lang": words,
            "answer": {lang: answer.get(lang, answer["fr"]) for lang in dict.fromkeys([words, *langs])},
            "sources": [{"title": "FAQ", "publisher": f"{fund}.example", "date": "2024-01", "url": None}],
            "reviewed": "2026-11-22"}


def assist_ranking(text: str, fund: str, langs: list[str]) -> dict[str, Any]:
    """A stand-in ranking: Arabic script -> an "ar" caller, Latin -> "fr"; "payer"/"نخلص" rank
    payment_channels first, "xyz" matches nothing."""
    lang = "ar" if any("\u0600" <= ch <= "\u06ff" for ch in text) else "fr"
    if "xyz" in text:
        return {"lang": lang, "script": "arab" if lang == "ar" else "latn", "entries": []}
    topics = ["payment_channels", "contribution_deadline", "debt_relief"]
    if not any(word in text for word in ("payer", "نخلص", "خلص")):
        topics = ["contribution_deadline", "payment_channels", "debt_relief"]
    entries = [assist_entry(fund, topic, round(0.9 - 0.2 * i, 2), lang, langs) for i, topic in enumerate(topics)]
    return {"lang": lang, "script": "arab" if lang == "ar" else "latn", "entries": entries}


def assist_rank_route(token: str, calls: Optional[list] = None):
    """Rasa's assist route as a handler of a loopback stand-in (tests/gateway/loopback.py): the
    bearer token checked, the stand-in ranking returned."""
    from tests.gateway.loopback import Reply

    def rank(request) -> Reply:
        if request.path != "/webhooks/assist/rank" or request.method != "POST":
            return Reply(404, {"error": "not found"})
        if request.headers.get("authorization") != f"Bearer {token}":
            return Reply(401, {"error": "missing or wrong bearer token"})
        body = request.json()
        if calls is not None:
            calls.append(body)
        return Reply(200, assist_ranking(body["text"], body["fund"], body.get("langs", [])))

    return rank


# --- review loop (bot/review.py's POST /webhooks/review/cluster) --------------------------------------

def review_groups(texts: list[str]) -> list[dict[str, Any]]:
    """A stand-in grouping by meaning: texts sharing their first word (case aside) form a group,
    largest first, the first member its representative."""
    by_word: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        by_word.setdefault((text.split() or [""])[0].casefold(), []).append(index)
    groups = sorted(by_word.values(), key=lambda members: (-len(members), members[0]))
    return [{"members": members, "representative": members[0]} for members in groups]


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
