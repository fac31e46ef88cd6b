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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import bindparam, func, insert, select, update

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


@dataclass
class PendingTurn:
    """A turn's row, decided and masked, waiting for its transaction."""
    conversation_hash: str
    fund: str
    channel: str
    lang: str
    script: str
    kind: str
    topic: Optional[str]
    masked_text: Optional[str]
    settles: bool  # whether it settles a clarification just before it in the same conversation
    at: Any = None


class BatchWriter:
    """Rows from many coroutines written in one transaction (group commit), in a worker thread.

    Each caller waits until its own row is committed, as with a transaction of its own, so a reader
    right after a turn sees it; the callers that arrive while a batch is being written go together
    in the next one, so the log costs one query, one commit and one hop to a thread per batch
    instead of per turn (issue 18: the turn log was half of the gateway's CPU samples at 20
    citizens; then, with a thread per turn waiting on a lock, the hops and wake-ups a quarter of
    what was left of it). One batch at a time: a conversation's turns are written in order."""

    def __init__(self, write: Callable[[list[Any]], list[Any]]) -> None:
        self._write = write
        self._queue: list[tuple[Any, asyncio.Future]] = []
        self._writer: Optional[asyncio.Task] = None

    async def submit(self, item: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Any, asyncio.Future]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    results = await asyncio.to_thread(self._write, [item for item, _ in batch])
                except Exception as failure:  # noqa: BLE001 (every caller of the batch gets it)
                    _settle(batch, error=failure)
                else:
                    _settle(batch, results=results)
                batch = []
        except BaseException:  # cancelled (the loop is closing): nobody waits forever
            for _, future in [*batch, *self._queue]:
                future.cancel()
            self._queue = []
            raise


def _settle(batch: list[tuple[Any, asyncio.Future]], results: Optional[list[Any]] = None,
            error: Optional[BaseException] = None) -> None:
    for n, (_, future) in enumerate(batch):
        if future.done():  # its caller gave up waiting (cancelled)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(results[n])


class TurnLog:
    def __init__(self, console) -> None:
        self.console = console
        self._writer = BatchWriter(self._write)

    async def record_turn(self, channel: str, conversation_id: str, fund: str, text: Optional[str],
                          turn: Any) -> None:
        """The relay's observer. Never raises: a turn the log could not keep must not fail the
        citizen's conversation (the failure is logged, without the text)."""
        try:
            await self._writer.submit(self.pending(channel, str(conversation_id), fund, text, turn))
        except Exception as error:  # noqa: BLE001 (an observer never breaks the relay)
            logger.warning("turn not logged (%s)", type(error).__name__)

    def record(self, channel: str, conversation_id: str, fund: str, text: Optional[str],
               turn: Any) -> dict[str, Any]:
        """One turn, written at once in its own transaction (tests and tools; the relay goes
        through record_turn)."""
        return self._write([self.pending(channel, conversation_id, fund, text, turn)])[0]

    def pending(self, channel: str, conversation_id: str, fund: str, text: Optional[str],
                turn: Any) -> PendingTurn:
        block = sanad_block(turn)
        kind = kind_of(block, turn is not None)
        lang, script = language_of(block)
        topic = block.get("topic") if kind == "answer" else None
        return PendingTurn(
            conversation_hash=conversation_hash(self.console.number_key, channel, conversation_id),
            fund=str(fund)[:16], channel=str(channel)[:16], lang=lang, script=script, kind=kind,
            topic=str(topic)[:64] if topic else None, masked_text=kept_text(kind, text),
            settles=settles(kind, text), at=self.console.clock())

    def _write(self, batch: list[PendingTurn]) -> list[dict[str, Any]]:
        """The batch's rows in one transaction, with SQLAlchemy Core statements (the ORM's unit of
        work and identity map cost CPU on every turn, for rows nobody reads back here).

        A turn that settles settles the conversation's last turn if that is a clarification still
        waiting: when that turn is in this batch, here, as the rows go in; when it is in the
        database, by one conditional UPDATE of each conversation's newest row, before the inserts
        (so that the newest row is still the turn before). The database decides in that
        statement, under the transaction's write lock: nothing is read back first (issue 18: the
        read was a fifth of the gateway's CPU samples), and a clarification written by another
        gateway process, or reviewed meanwhile, is seen as it is."""
        rows: list[dict[str, Any]] = []
        in_batch: dict[str, dict[str, Any]] = {}  # each conversation's last row of this batch
        settle_in_database: set[str] = set()
        for pending in batch:
            previous = in_batch.get(pending.conversation_hash)
            if pending.settles:
                if previous is None:  # the turn before is in the database, if there is one
                    settle_in_database.add(pending.conversation_hash)
                elif previous["kind"] == CLARIFY and previous["settled"] is False:
                    previous.update(settled=True, masked_text=None)  # not written yet: settled as it goes in
            row = {"at": pending.at, "fund": pending.fund, "channel": pending.channel,
                   "conversation_hash": pending.conversation_hash, "lang": pending.lang,
                   "script": pending.script, "kind": pending.kind, "topic": pending.topic,
                   "settled": False if pending.kind == CLARIFY else None,
                   "masked_text": pending.masked_text, "review_id": None}
            in_batch[pending.conversation_hash] = row
            rows.append(row)
        with self.console.db() as db:
            # Core statements on the session's connection: the ORM session's own execute path
            # was a third of this write's CPU, for statements that map no objects.
            connection = db.connection()
            if settle_in_database:
                connection.execute(SETTLE_WAITING_CLARIFICATION, {"hashes": sorted(settle_in_database)})
            connection.execute(INSERT_TURNS, rows)
            db.commit()
        return rows


# The statements, built once (building them was CPU on every turn). On the table, not the mapped
# class: Core statements, without the ORM's bulk-update bookkeeping.
_turns = Turn.__table__
_newest_of_each = (select(func.max(_turns.c.id))
                   .where(_turns.c.conversation_hash.in_(bindparam("hashes", expanding=True)))
                   .group_by(_turns.c.conversation_hash))
SETTLE_WAITING_CLARIFICATION = (
    update(_turns)
    .where(_turns.c.id.in_(_newest_of_each), _turns.c.kind == CLARIFY, _turns.c.settled.is_(False),
           _turns.c.review_id.is_(None))  # a clarification reviewed meanwhile keeps its text
    .values(settled=True, masked_text=None))
INSERT_TURNS = insert(_turns)
