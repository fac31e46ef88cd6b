"""What the conversation stores did during one REST turn, so the channel can tell the caller when
a message could not be kept (bot/channels.py), instead of Rasa's own silence.

Rasa wraps the tracker store in its FailSafeTrackerStore: a conversation that cannot be read from
PostgreSQL is taken as a new one, and one that cannot be written is kept in the process's memory,
with an error in the log and a 200 to the caller. A citizen inside the balance form would be
answered as if the form had never begun, and that answer forgotten once the database is back. The
redacting tracker store (bot/redaction.py) notes each failure and each save here; the channel
then answers 503 (nothing was kept: send the message again) and the gateway retries it, telling
the citizen to wait, in their language."""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Optional


@dataclass
class TurnStorage:
    store_failed: bool = False  # the tracker store raised (read or write)
    lock_failed: bool = False  # the lock store raised (Redis unreachable)
    saved: int = 0  # successful writes of the conversation

    def kept(self) -> bool:
        """The turn's outcome is in the conversation store. A lock store failure after the turn
        was saved (releasing the lock) loses nothing: the answer stands."""
        return not self.store_failed and (not self.lock_failed or self.saved > 0)


CURRENT: ContextVar[Optional[TurnStorage]] = ContextVar("sanad_turn_storage", default=None)


def begin() -> TurnStorage:
    turn = TurnStorage()
    CURRENT.set(turn)
    return turn


def note_store_failure() -> None:
    turn = CURRENT.get()
    if turn is not None:
        turn.store_failed = True


def note_saved() -> None:
    turn = CURRENT.get()
    if turn is not None:
        turn.saved += 1
