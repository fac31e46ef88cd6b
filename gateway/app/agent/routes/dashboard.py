"""The dashboard (issue 17, item 3): the fund's conversations per day, channel, language and topic,
fallback and handoff rates, and the median wait before an agent answered, from the turn log
(gateway/app/agent/turnlog.py) and the handoff inbox. Supervisors and agents see
their own fund's figures only: counts, never a message.

Definitions (the console's interface says them too):
- a conversation counts on each day (UTC) it had a turn, once per channel, once per language it was
  written in, and once per topic the assistant answered in it;
- fallback rate: the assistant's turns it declined (out_of_scope) / all its turns (turns a person
  answered excluded);
- handoff rate: conversations that asked for a person / conversations;
- median wait: from a conversation's entry into the inbox (agent_handoffs, the live handoff's
  table) to an agent's first reply, over the answered ones that entered it in the window."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app.agent.db.models import Handoff, Turn
from gateway.app.agent.deps import ConsoleDep, DbDep, SignedInDep
from gateway.app.agent.routes.review import review_intents
from gateway.app.agent.turnlog import DECLINED, WITH_AGENT

router = APIRouter(prefix="/dashboard", tags=["agent"])
HANDOFF = "handoff"
MAX_DAYS = 92


def rate(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def day_range(until: date, days: int) -> list[date]:
    return [until - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def figures(rows: list[Any], days: list[date]) -> dict[str, Any]:
    """The dashboard's figures for turn rows (at, channel, conversation_hash, lang, kind, topic)."""
    per_day: dict[date, set[str]] = defaultdict(set)
    per_channel: dict[str, set[str]] = defaultdict(set)
    per_lang: dict[str, set[str]] = defaultdict(set)
    per_topic: dict[str, set[str]] = defaultdict(set)
    kinds: Counter[str] = Counter()
    handed_off: set[str] = set()
    for row in rows:
        conversation = row.conversation_hash
        per_day[row.at.date()].add(conversation)
        per_channel[row.channel].add(conversation)
        if row.kind != WITH_AGENT:  # a person's turn: the log knows no language for it
            per_lang[row.lang].add(conversation)
        if row.topic:
            per_topic[row.topic].add(conversation)
        kinds[row.kind] += 1
        if row.kind == HANDOFF:
            handed_off.add(conversation)
    conversations = {row.conversation_hash for row in rows}
    assistant_turns = sum(n for kind, n in kinds.items() if kind != WITH_AGENT)
    return {
        "conversations": len(conversations),
        "turns": len(rows),
        "per_day": [{"day": day.isoformat(), "conversations": len(per_day.get(day, ()))} for day in days],
        "per_channel": _counted(per_channel),
        "per_lang": _counted(per_lang),
        "per_topic": _counted(per_topic),
        "kinds": dict(kinds.most_common()),
        "declined": kinds[DECLINED],
        "fallback_rate": rate(kinds[DECLINED], assistant_turns),
        "handoffs": len(handed_off),
        "handoff_rate": rate(len(handed_off), len(conversations)),
    }


def _counted(sets: dict[str, set[str]]) -> dict[str, int]:
    return dict(sorted(((key, len(members)) for key, members in sets.items()), key=lambda kv: (-kv[1], kv[0])))


def inbox_waits(db: Session, fund: str, start: datetime, end: datetime) -> tuple[int, list[float]]:
    """(conversations that entered the fund's inbox in the window, the seconds each answered one
    waited before an agent's first reply). Unanswered ones (still waiting, the citizen gone,
    closed unanswered) have no wait: they are counted, not averaged in."""
    rows = db.execute(select(Handoff.created_at, Handoff.first_reply_at)
                      .where(Handoff.fund == fund, Handoff.created_at >= start, Handoff.created_at < end)).all()
    waits = [(replied - created).total_seconds() for created, replied in rows if replied is not None]
    return len(rows), waits


@router.get("", summary="The fund's conversation figures over the last days (agents and supervisors)")
def dashboard(who: SignedInDep, console: ConsoleDep, db: DbDep,
              days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30) -> dict:
    until = console.clock().astimezone(timezone.utc).date()
    window = day_range(until, days)
    start = datetime.combine(window[0], time.min, tzinfo=timezone.utc)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=timezone.utc)
    rows = db.execute(select(Turn.at, Turn.channel, Turn.conversation_hash, Turn.lang, Turn.kind, Turn.topic)
                      .where(Turn.fund == who.fund, Turn.at >= start, Turn.at < end)).all()
    entered, waits = inbox_waits(db, who.fund, start, end)
    counted = figures(rows, window)
    titles = review_intents()
    return {"fund": who.fund, "since": window[0].isoformat(), "until": until.isoformat(), **counted,
            "topic_titles": {topic: titles[topic] for topic in counted["per_topic"] if titles.get(topic)},
            "inbox": {"entered": entered, "answered": len(waits)},
            "median_wait_seconds": round(statistics.median(waits), 1) if waits else None}
