"""The audit log of balance look-ups, for supervisors of the fund: filtered by agent, date range
and affiliate number, as JSON or CSV. Read-only: no route writes to it but the look-up itself."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Optional

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import Select, select

from gateway.app.agent.db.models import AuditEntry
from gateway.app.agent.deps import ConsoleDep, DbDep, SupervisorDep, refuse
from gateway.app.agent.routes.balance import normalize_number, number_hash

router = APIRouter(prefix="/audit", tags=["agent"])
COLUMNS = ("id", "at", "agent", "fund", "masked_number", "identity_check", "reason", "result")
MAX_ROWS = 500


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def filtered(who, console, agent: Optional[str], since: Optional[date], until: Optional[date],
             number: Optional[str]) -> Select:
    query = select(AuditEntry).where(AuditEntry.fund == who.fund)
    if agent:
        query = query.where(AuditEntry.agent == agent.strip().lower())
    if since:
        query = query.where(AuditEntry.at >= _day_start(since))
    if until:  # the whole day named
        query = query.where(AuditEntry.at < _day_start(until + timedelta(days=1)))
    if number:
        try:
            digits = normalize_number(number)
        except ValueError:
            raise refuse(422, "invalid_number") from None
        query = query.where(AuditEntry.number_hash == number_hash(console.number_key, who.fund, digits))
    return query.order_by(AuditEntry.id.desc())


def as_row(entry: AuditEntry) -> dict:
    values = {name: getattr(entry, name) for name in COLUMNS}
    values["at"] = entry.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return values


Agent = Annotated[Optional[str], Query(max_length=64)]
Number = Annotated[Optional[str], Query(max_length=40)]


@router.get("", summary="Look-ups of the supervisor's fund, newest first (supervisors)")
def audit_log(who: SupervisorDep, console: ConsoleDep, db: DbDep, agent: Agent = None,
              since: Optional[date] = None, until: Optional[date] = None, number: Number = None,
              limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 100,
              offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    query = filtered(who, console, agent, since, until, number)
    rows = db.scalars(query.limit(limit).offset(offset)).all()
    return {"fund": who.fund, "rows": [as_row(entry) for entry in rows]}


@router.get(".csv", summary="The same, every matching row, as CSV (supervisors)")
def audit_csv(who: SupervisorDep, console: ConsoleDep, db: DbDep, agent: Agent = None,
              since: Optional[date] = None, until: Optional[date] = None, number: Number = None) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for entry in db.scalars(filtered(who, console, agent, since, until, number)):
        writer.writerow({k: _csv_safe(v) for k, v in as_row(entry).items()})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="sanad-audit.csv"'})


def _csv_safe(value):
    """A reason starting with = + - @ would run as a formula in a spreadsheet (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
