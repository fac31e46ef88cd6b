"""The review loop (issue 17, item 3), for the fund's supervisors only: the messages the assistant
declined or could not settle (masked when logged, gateway/app/agent/turnlog.py), grouped by meaning
by the citizen assistant's own e5 embeddings (Rasa's POST /webhooks/review/cluster, bot/review.py),
with counts per language; a group's messages exported as NLU training examples of a topic
(nlu_data/ format, bot/nlu_yaml.py) or marked out of scope (exported under `out_of_scope`).

A decision covers the messages the supervisor kept of a group, by their ids: the database marks
them only if every one is still pending and of the supervisor's fund (one UPDATE ... WHERE
review_id IS NULL), so two supervisors deciding at once cannot both take a message, and an id of
another fund is refused like an id that does not exist."""
from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Optional

import yaml
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select, update

from bot.nlu_yaml import nlu_yaml
from gateway.app.agent.db.models import ReviewDecision, Turn
from gateway.app.agent.deps import ConsoleDep, DbDep, SupervisorDep, refuse
from gateway.app.agent.turnlog import CLARIFY, DECLINED
from gateway.app.rasa_client import RasaUnavailable

router = APIRouter(prefix="/review", tags=["agent"])
TOPICS_FILE = Path(__file__).resolve().parents[4] / "knowledge" / "topics.yml"
# Intents a group may be exported as, besides the knowledge base's topics (bot/domain.yml).
EXTRA_INTENTS = ("account_balance", "human_handoff")
OUT_OF_SCOPE = "out_of_scope"
MAX_TURNS = 2000  # the newest pending messages read
MAX_TEXTS = 500  # distinct texts sent to the grouping (bot/review.py MAX_TEXTS)
# A clarification is unsettled once the citizen had time to choose: not while they are reading it.
CLARIFY_GRACE = timedelta(minutes=15)
GROUPING_TIMEOUT_SECONDS = 60.0


@lru_cache(maxsize=1)
def review_intents() -> dict[str, dict[str, str]]:
    """intent -> its title in French and Arabic: the knowledge base's topics, then EXTRA_INTENTS
    (whose titles the console's interface holds)."""
    titles = (yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8")) or {}).get("titles", {})
    intents = {topic: {lang: names.get(lang, topic) for lang in ("fr", "ar")} for topic, names in titles.items()}
    return {**intents, **{intent: {} for intent in EXTRA_INTENTS}}


def pending(fund: str, now):
    """Messages of `fund` awaiting review: declined ones, and clarifications the citizen did not
    settle (past the grace period), with a masked text and no decision yet."""
    return and_(Turn.fund == fund, Turn.review_id.is_(None), Turn.masked_text.is_not(None),
                or_(Turn.kind == DECLINED,
                    and_(Turn.kind == CLARIFY, Turn.settled.is_(False), Turn.at <= now - CLARIFY_GRACE)))


def group_key(turn_ids: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(turn_ids))).encode()).hexdigest()[:16]


def message_view(turn: Turn) -> dict:
    return {"id": turn.id, "text": turn.masked_text, "lang": turn.lang, "channel": turn.channel,
            "kind": "declined" if turn.kind == DECLINED else "unsettled",
            "at": turn.at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def group_view(turns: list[Turn], representative: str) -> dict:
    turns = sorted(turns, key=lambda t: t.id, reverse=True)
    return {"key": group_key([t.id for t in turns]), "size": len(turns), "representative": representative,
            "by_lang": dict(Counter(t.lang for t in turns).most_common()),
            "by_kind": dict(Counter(message_view(t)["kind"] for t in turns)),
            "messages": [message_view(t) for t in turns]}


@router.get("/intents", summary="The topics a group may be exported as (supervisors)")
def intents(who: SupervisorDep) -> dict:
    return {"intents": [{"intent": name, "title": titles} for name, titles in review_intents().items()]}


@router.get("/groups", summary="Declined or unsettled messages of the fund, grouped by meaning (supervisors)")
async def groups(who: SupervisorDep, console: ConsoleDep, db: DbDep, request: Request,
                 lang: Annotated[Optional[str], Query(max_length=8)] = None) -> dict:
    query = select(Turn).where(pending(who.fund, console.clock()))
    if lang:
        query = query.where(Turn.lang == lang)
    turns = db.scalars(query.order_by(Turn.id.desc()).limit(MAX_TURNS)).all()
    by_text: dict[str, list[Turn]] = {}
    for turn in turns:  # the same words twice are one text to group
        if turn.masked_text in by_text or len(by_text) < MAX_TEXTS:
            by_text.setdefault(turn.masked_text, []).append(turn)
    texts = list(by_text)
    db.commit()  # no transaction held open while Rasa groups the texts
    try:
        grouped = await request.app.state.rasa.review_cluster(texts, timeout=GROUPING_TIMEOUT_SECONDS) if texts else []
    except RasaUnavailable:
        raise refuse(503, "review_unavailable") from None
    views = []
    for group in grouped:
        members = [i for i in group.get("members", []) if isinstance(i, int) and 0 <= i < len(texts)]
        if members:
            representative = group.get("representative")
            representative = representative if representative in members else members[0]
            views.append(group_view([t for i in members for t in by_text[texts[i]]], texts[representative]))
    shown = [t for texts_turns in by_text.values() for t in texts_turns]
    return {"fund": who.fund, "pending": len(shown), "truncated": len(shown) < len(turns) or len(turns) == MAX_TURNS,
            "by_lang": dict(Counter(t.lang for t in shown).most_common()), "groups": views}


class DecisionRequest(BaseModel):
    turn_ids: list[int] = Field(min_length=1, max_length=MAX_TURNS)
    outcome: Literal["intent", "out_of_scope"]
    intent: Optional[str] = Field(default=None, max_length=64)


def decision_view(decision: ReviewDecision) -> dict:
    return {"id": decision.id, "at": decision.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "supervisor": decision.supervisor,
            "outcome": decision.outcome, "intent": decision.intent, "examples": decision.examples,
            "export": f"/agent/api/review/export.yml?decision={decision.id}"}


@router.post("/decisions", status_code=201, summary="Export a group's messages as a topic's examples, "
             "or mark them out of scope (supervisors)")
def decide(body: DecisionRequest, who: SupervisorDep, console: ConsoleDep, db: DbDep) -> dict:
    if body.outcome == "intent" and body.intent not in review_intents():
        raise refuse(422, "unknown_intent")
    ids = sorted(set(body.turn_ids))
    now = console.clock()
    decision = ReviewDecision(at=now, fund=who.fund, supervisor=who.account.name, outcome=body.outcome,
                              intent=body.intent if body.outcome == "intent" else OUT_OF_SCOPE, examples=len(ids))
    db.add(decision)
    db.flush()
    marked = db.execute(update(Turn).where(Turn.id.in_(ids), pending(who.fund, now))
                        .values(review_id=decision.id).execution_options(synchronize_session=False))
    if marked.rowcount != len(ids):  # decided meanwhile, another fund's, or no such message
        db.rollback()
        raise refuse(409, "group_changed")
    db.commit()
    return decision_view(decision)


@router.get("/decisions", summary="The fund's review decisions, newest first (supervisors)")
def decisions(who: SupervisorDep, db: DbDep, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict:
    rows = db.scalars(select(ReviewDecision).where(ReviewDecision.fund == who.fund)
                      .order_by(ReviewDecision.id.desc()).limit(limit)).all()
    return {"fund": who.fund, "decisions": [decision_view(d) for d in rows]}


@router.get("/export.yml", summary="The decided messages as NLU training data, nlu_data/ format (supervisors)")
def export(who: SupervisorDep, console: ConsoleDep, db: DbDep,
           decision: Annotated[Optional[int], Query(ge=1)] = None) -> Response:
    query = (select(ReviewDecision.intent, Turn.masked_text).join(Turn, Turn.review_id == ReviewDecision.id)
             .where(ReviewDecision.fund == who.fund).order_by(ReviewDecision.id, Turn.id))
    if decision is not None:
        chosen = db.get(ReviewDecision, decision)
        if chosen is None or chosen.fund != who.fund:  # another fund's: as if it did not exist
            raise refuse(404, "unknown_decision")
        query = query.where(ReviewDecision.id == decision)
    examples: dict[str, list[str]] = {}
    for intent, text in db.execute(query):
        examples.setdefault(intent, []).append(text)
    day = console.clock().strftime("%Y-%m-%d")
    comment = (f"Sanad review export, fund {who.fund}, {day}: messages the assistant declined or could not\n"
               "settle, masked of personal data, labelled by a supervisor. Add to nlu_data/, then\n"
               "`rasa data validate` and `sanad train`.")
    name = f"sanad-review-{who.fund}-{day}" + (f"-{decision}" if decision else "") + ".yml"
    return Response(nlu_yaml(examples, comment), media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
