"""The append-only audit log of balance look-ups on behalf of callers, as a hash chain.

Each row's `row_hash` is SHA-256 over the previous row's hash and the row's own fields in a
canonical form (sequence number included). Altering a row breaks its own hash; removing one
breaks the sequence and the next row's link; `verify` names the first row where the chain
breaks. Removing the newest rows leaves a shorter valid chain: `verify` prints the head hash and
the row count, which a supervisor can note elsewhere (an external anchor) to catch that too.

Appends are serialised by the database: the row's id is the previous id + 1 and `prev_hash` is
unique, so of two simultaneous look-ups extending the same row one insert fails and retries."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.app.agent.db.models import AuditEntry

GENESIS = "0" * 64
CHAINED_FIELDS = ("id", "at", "agent", "fund", "masked_number", "number_hash", "identity_check",
                  "reason", "result")
APPEND_ATTEMPTS = 20


def canonical(entry: AuditEntry) -> str:
    values = {name: getattr(entry, name) for name in CHAINED_FIELDS}
    values["at"] = entry.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chained_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(entry)}".encode()).hexdigest()


def append(db: Session, *, at: datetime, agent: str, fund: str, masked_number: str, number_hash: str,
           identity_check: str, reason: str, result: str) -> AuditEntry:
    """Write one row at the head of the chain and commit it."""
    at = at.replace(microsecond=0)
    for _ in range(APPEND_ATTEMPTS):
        last = db.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        entry = AuditEntry(id=(last.id if last else 0) + 1, at=at, agent=agent, fund=fund,
                           masked_number=masked_number, number_hash=number_hash,
                           identity_check=identity_check, reason=reason, result=result,
                           prev_hash=last.row_hash if last else GENESIS)
        entry.row_hash = chained_hash(entry.prev_hash, entry)
        db.add(entry)
        try:
            db.commit()
            return entry
        except IntegrityError:  # another look-up took this place in the chain: read the head again
            db.rollback()
    raise RuntimeError("the audit log could not be appended to (too much contention)")


@dataclass
class Verdict:
    rows: int
    head: str
    problem: Optional[str] = None  # the first break, naming its row
    row: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(db: Session, batch: int = 1000) -> Verdict:
    expected_id, expected_prev, rows = 1, GENESIS, 0
    query = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=batch)
    for entry in db.scalars(query):
        if entry.id != expected_id:
            missing = (f"row {expected_id}" if entry.id == expected_id + 1
                       else f"rows {expected_id} to {entry.id - 1}")
            return Verdict(rows, expected_prev, f"{missing} removed (the log jumps to row {entry.id})",
                           expected_id)
        if entry.prev_hash != expected_prev:
            return Verdict(rows, expected_prev, f"row {entry.id} does not follow row {entry.id - 1}: "
                           f"row {entry.id - 1} was altered, or a row was removed or inserted", entry.id - 1)
        if chained_hash(entry.prev_hash, entry) != entry.row_hash:
            return Verdict(rows, expected_prev, f"row {entry.id} was altered (its content no longer "
                           "matches its hash)", entry.id)
        expected_id, expected_prev, rows = entry.id + 1, entry.row_hash, rows + 1
    return Verdict(rows, expected_prev)
