"""Assist: the fund's best knowledge-base entries for what the agent typed, from the citizen
assistant's own pipeline (Rasa's POST /webhooks/assist/rank, bot/assist.py), and what became of
the suggestions (shown, copied), recorded without the typed text."""
from __future__ import annotations

import logging
from typing import Literal, Optional

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import case, func, select

from gateway.app.agent.db.models import AssistEvent
from gateway.app.agent.deps import ConsoleDep, DbDep, SignedInDep, SupervisorDep, refuse
from gateway.app.agent.state import Ranking
from gateway.app.rasa_client import RasaUnavailable

logger = logging.getLogger("sanad.gateway.agent.assist")
router = APIRouter(prefix="/assist", tags=["agent"])
MAX_ENTRIES = 3
UI_LANGS = ("fr", "ar")


class AssistRequest(BaseModel):
    text: str = Field(min_length=1, max_length=1000)
    ui_lang: Literal["fr", "ar"] = "fr"


class AssistEventRequest(BaseModel):
    ranking_id: str = Field(min_length=1, max_length=64)
    event: Literal["shown", "copied"]
    rank: Optional[int] = Field(default=None, ge=1, le=MAX_ENTRIES)


@router.post("", summary="The three best entries of the agent's fund for a caller's words")
async def assist(body: AssistRequest, request: Request, who: SignedInDep, console: ConsoleDep) -> dict:
    text = body.text.strip()
    if not text:
        raise refuse(422, "empty_text")
    try:
        ranking = await request.app.state.rasa.assist_rank(
            text, who.fund, [body.ui_lang], timeout=console.settings.ASSIST_TIMEOUT_SECONDS)
    except RasaUnavailable:
        raise refuse(503, "assist_unavailable") from None
    entries = [entry for entry in ranking.get("entries", []) if isinstance(entry, dict)][:MAX_ENTRIES]
    lang = str(ranking.get("lang") or "fr")
    ranking_id = console.rankings.add(Ranking(who.account.id, who.fund, lang,
                                              [str(entry.get("topic")) for entry in entries]))
    return {"ranking_id": ranking_id, "lang": lang, "script": ranking.get("script"), "entries": entries}


@router.post("/events", status_code=204, summary="A ranking was shown to the agent, or one of its answers copied")
def assist_event(body: AssistEventRequest, who: SignedInDep, console: ConsoleDep, db: DbDep) -> None:
    ranking = console.rankings.get(body.ranking_id, who.account.id)
    if ranking is None:
        raise refuse(404, "unknown_ranking")
    now = console.clock()
    if body.event == "shown":
        if "shown" in ranking.recorded:
            return None
        ranking.recorded.add("shown")
        shown = [(topic, rank) for rank, topic in enumerate(ranking.topics, 1)] or [(None, None)]
        db.add_all(AssistEvent(at=now, fund=ranking.fund, lang=ranking.lang, topic=topic, rank=rank,
                               event="shown") for topic, rank in shown)
    else:
        if body.rank is None or body.rank > len(ranking.topics):
            raise refuse(422, "no_such_suggestion")
        if f"copied:{body.rank}" in ranking.recorded:
            return None
        ranking.recorded.add(f"copied:{body.rank}")
        db.add(AssistEvent(at=now, fund=ranking.fund, lang=ranking.lang, topic=ranking.topics[body.rank - 1],
                           rank=body.rank, event="copied"))
    db.commit()
    return None


@router.get("/acceptance", summary="Suggestions copied / shown, per caller language and topic (supervisors)")
def acceptance(who: SupervisorDep, db: DbDep) -> dict:
    shown = func.sum(case((AssistEvent.event == "shown", 1), else_=0))
    copied = func.sum(case((AssistEvent.event == "copied", 1), else_=0))
    rows = db.execute(select(AssistEvent.lang, AssistEvent.topic, shown, copied)
                      .where(AssistEvent.fund == who.fund)
                      .group_by(AssistEvent.lang, AssistEvent.topic)
                      .order_by(AssistEvent.lang, AssistEvent.topic)).all()
    return {"fund": who.fund, "rows": [
        {"lang": lang, "topic": topic, "shown": int(n_shown), "copied": int(n_copied),
         "rate": round(n_copied / n_shown, 3) if n_shown else None}
        for lang, topic, n_shown, n_copied in rows]}
