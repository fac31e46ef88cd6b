"""The turn log: one row per citizen turn, as the assistant handled it, for the supervisors'
dashboard and review loop (issue 17, item 3).

    TurnLog(console).record_turn    an observer of the relay (gateway/app/relay.py `observers`):
                                    called with (channel, conversation_id, fund, text, turn)

A row says when, which fund and channel, the citizen's language and script, what the assistant
decided (`kind`: answer, clarify, out_of_scope, handoff, balance, small_talk, unexpected, agent
when a person held the conversation) and on which topic. The citizen's text is kept only where
the review loop needs it, masked with bot.masking.mask_text (the function of the tracker store):
for a declined turn, and for a clarification until the citizen picks one of its choices (the
clarification is then `settled` and its text dropped). Conversation ids are keyed hashes: the log
cannot be joined to a channel's user without the gateway's secret."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.masking import mask_text
from gateway.app.agent.db.models import Turn

logger = logging.getLogger("sanad.gateway.agent.turnlog")

# The `decision` of the actions' `custom.sanad` block (actions/faq.py sanad_payload) -> kind.
KINDS = {
    "answer": "answer", "clarify": "clarify", "out_of_scope": "out_of_scope",
    "human_handoff": "handoff", "account_balance": "balance", "unexpected": "unexpected",
    "greet": "small_talk", "goodbye": "small_talk", "thanks": "small_talk", "cancel": "small_talk",
}
DECLINED = "out_of_scope"
CLARIFY = "clarify"
WITH_AGENT = "agent"  # the relay passed no assistant turn: a person held the conversation
CHOICE_PAYLOAD = "/choose_topic"  # a clarification's button
MAX_KEPT_CHARS = 500  # a review example is a sentence or two; nothing longer is worth keeping


def conversation_hash(key: str, channel: str, conversation_id: str) -> str:
    """Keyed (HMAC-SHA256): the same conversation always gets the same hash, and without the key
    a hash says nothing of the Telegram chat or widget session it stands for."""
    message = f"turn:{channel}:{conversation_id}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def sanad_block(turn: Any) -> dict[str, Any]:
    """The `sanad` block of the relay's turn (a rasa_client.BotTurn, or its JSON form)."""
    if turn is None:
        return {}
    block = getattr(turn, "sanad", None)
    if block is None and isinstance(turn, dict):
        block = turn.get("sanad", turn)
    return block if isinstance(block, dict) else {}


def kind_of(block: dict[str, Any], has_turn: bool) -> str:
    if not has_turn:
        return WITH_AGENT
    return KINDS.get(str(block.get("decision") or ""), "other")


def language_of(block: dict[str, Any]) -> tuple[str, str]:
    """(language, script) the citizen wrote in: the NLU's detection, else the reply's language."""
    detected = block.get("detected") if isinstance(block.get("detected"), dict) else {}
    lang = detected.get("lang") or block.get("lang") or "und"
    return str(lang)[:8], str(detected.get("script") or "")[:16]


def kept_text(kind: str, text: Optional[str]) -> Optional[str]:
    """What the review loop keeps of the citizen's words: declined turns and clarifications only,
    masked; a button's payload is no words of theirs."""
    if kind not in (DECLINED, CLARIFY) or not text or text.lstrip().startswith("/"):
        return None
    masked = mask_text(" ".join(text.split()))
    return masked[:MAX_KEPT_CHARS] if masked else None


def settles(kind: str, text: Optional[str]) -> bool:
    """A turn that follows a clarification settles it when the citizen chose: a clarification
    button, or a question the assistant then answered."""
    return kind == "answer" or (text or "").lstrip().startswith(CHOICE_PAYLOAD)


class TurnLog:
    def __init__(self, console) -> None:
        self.console = console

    async def record_turn(self, channel: str, conversation_id: str, fund: str, text: Optional[str],
                          turn: Any) -> None:
        """The relay's observer. Never raises: a turn the log could not keep must not fail the
        citizen's conversation (the failure is logged, without the text)."""
        try:
            await asyncio.to_thread(self.record, channel, str(conversation_id), fund, text, turn)
        except Exception as error:  # noqa: BLE001 (an observer never breaks the relay)
            logger.warning("turn not logged (%s)", type(error).__name__)

    def record(self, channel: str, conversation_id: str, fund: str, text: Optional[str], turn: Any) -> Turn:
        block = sanad_block(turn)
        kind = kind_of(block, turn is not None)
        lang, script = language_of(block)
        topic = block.get("topic") if kind == "answer" else None
        hashed = conversation_hash(self.console.number_key, channel, conversation_id)
        with self.console.db() as db:
            self._settle_previous(db, hashed, kind, text)
            row = Turn(at=self.console.clock(), fund=str(fund)[:16], channel=str(channel)[:16],
                       conversation_hash=hashed, lang=lang, script=script, kind=kind,
                       topic=str(topic)[:64] if topic else None,
                       settled=False if kind == CLARIFY else None, masked_text=kept_text(kind, text))
            db.add(row)
            db.commit()
            return row

    @staticmethod
    def _settle_previous(db: Session, hashed: str, kind: str, text: Optional[str]) -> None:
        previous = db.scalars(select(Turn).where(Turn.conversation_hash == hashed)
                              .order_by(Turn.id.desc()).limit(1)).first()
        if previous is not None and previous.kind == CLARIFY and previous.settled is False \
                and previous.review_id is None and settles(kind, text):
            previous.settled = True
            previous.masked_text = None  # settled: the review loop has no use for it any more
