"""The live handoff inbox (issue 17): the fund's conversations waiting for or held by an agent,
their masked transcripts, claiming, replying, handing back, closing, suggested answers, and a
stream of updates (Server-Sent Events) for the signed-in account's fund only.

    GET  /inbox                      open handoffs of the fund (waiting, claimed), opening hours
    GET  /inbox/events               text/event-stream: `handoff` and `message` events of the fund
    GET  /inbox/{id}                 one handoff and its transcript (masked)
    GET  /inbox/{id}/suggestions     the assist ranking of the citizen's last messages
    POST /inbox/{id}/claim           409 `already_claimed` when another agent was first
    POST /inbox/{id}/reply           {"text"}: to the citizen's channel, now (409 unless you hold it)
    POST /inbox/{id}/hand-back       back to the assistant
    POST /inbox/{id}/close           {"outcome": one of OUTCOMES}

Every handler reads the fund from the session; an id of another fund is a 404 like an unknown one."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field

from gateway.app.agent.deps import ConsoleDep, SignedInDep, refuse
from gateway.app.agent.handoff import store
from gateway.app.agent.handoff.desk import fund_topic
from gateway.app.agent.routes.assist import MAX_ENTRIES
from gateway.app.agent.security import COOKIE_NAME, find_session
from gateway.app.agent.state import AgentConsole, Ranking
from gateway.app.rasa_client import RasaUnavailable

logger = logging.getLogger("sanad.gateway.agent.inbox")
router = APIRouter(prefix="/inbox", tags=["agent"])
SESSION_CHECK_SECONDS = 30.0  # a stream ends within this long of its session's end
SUGGESTION_LINES = 2  # the citizen's last messages the suggestions are computed from


class ReplyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class CloseRequest(BaseModel):
    outcome: Literal[store.OUTCOMES]  # type: ignore[valid-type]


async def _db(console: AgentConsole, action, *args, **kwargs):
    def run():
        with console.db() as db:
            return action(db, *args, **kwargs)
    return await asyncio.to_thread(run)


def _desk(console: AgentConsole):
    if console.desk is None:
        raise refuse(503, "handoff_unavailable")
    return console.desk


async def _handoff(console: AgentConsole, handoff_id: int, fund: str):
    handoff = await _db(console, store.get, handoff_id, fund)
    if handoff is None:
        raise refuse(404, "unknown_handoff")
    return handoff


def _opening(console: AgentConsole, fund: str) -> dict:
    hours = _desk(console).hours.get(fund)
    if hours is None:
        return {"open": False, "hours": None, "next_opening": None}
    now = console.clock()
    return {"open": hours.is_open(now), "hours": hours.spec, "time_zone": str(hours.zone),
            "next_opening": hours.next_opening(now).isoformat()}


@router.get("", summary="The fund's open handoffs, oldest first")
async def inbox(who: SignedInDep, console: ConsoleDep) -> dict:
    def read(db):
        handoffs = store.inbox(db, who.fund)
        return handoffs, store.agent_names(db, handoffs)
    handoffs, agents = await _db(console, read)
    now, gone_after = console.clock(), _desk(console).gone_after
    return {"fund": who.fund, "now": now.isoformat(), "gone_after_seconds": int(gone_after.total_seconds()),
            "outcomes": list(store.OUTCOMES), **_opening(console, who.fund),
            "items": [store.summary(h, now, gone_after, agents, who.account.id) for h in handoffs]}


async def stream_fund(request: Request, console: ConsoleDep) -> str:
    """The signed-in account's fund, checked as SignedInDep does but in a database session of its
    own, closed at once: SignedInDep's would stay open as long as the stream."""
    return await _signed_in_fund(console, request.cookies.get(COOKIE_NAME))


@router.get("/events", response_class=EventSourceResponse, summary="Live updates of the fund's inbox (SSE)")
async def events(request: Request, console: ConsoleDep,
                 fund: Annotated[str, Depends(stream_fund)]) -> AsyncIterator[ServerSentEvent]:
    session_id = request.cookies.get(COOKIE_NAME)
    desk = _desk(console)
    async with desk.bus.subscribe(fund_topic(fund)) as updates:
        yield ServerSentEvent(event="ready", data={"fund": fund})
        pending = asyncio.ensure_future(anext(updates))
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=SESSION_CHECK_SECONDS)
                if not done:
                    if not await _still_signed_in(console, session_id):
                        yield ServerSentEvent(event="signed_out", data={})
                        return
                    continue
                event = pending.result()
                pending = asyncio.ensure_future(anext(updates))
                yield ServerSentEvent(event=event["type"], data=event)
        finally:
            pending.cancel()


async def _signed_in_fund(console: AgentConsole, session_id) -> str:
    def check(db):
        who, why = find_session(db, console.settings, session_id, console.clock())
        return (who.fund, "") if who is not None else (None, why)
    fund, why = await _db(console, check)
    if fund is None:
        raise refuse(401, why)
    return fund


async def _still_signed_in(console: AgentConsole, session_id) -> bool:
    try:
        await _signed_in_fund(console, session_id)
    except Exception:  # noqa: BLE001 (expired, disabled, or the database gone: the stream ends)
        return False
    return True


@router.get("/{handoff_id}", summary="A handoff and its transcript (personal data masked)")
async def conversation(handoff_id: int, who: SignedInDep, console: ConsoleDep) -> dict:
    handoff = await _handoff(console, handoff_id, who.fund)

    def read(db):
        return store.transcript(db, handoff_id), store.agent_names(db, [handoff])
    lines, agents = await _db(console, read)
    summary = store.summary(handoff, console.clock(), _desk(console).gone_after, agents, who.account.id)
    return {**summary, "transcript": [store.message_json(line) for line in lines]}


@router.get("/{handoff_id}/suggestions", summary="Knowledge-base answers for the citizen's last messages")
async def suggestions(handoff_id: int, request: Request, who: SignedInDep, console: ConsoleDep,
                      ui_lang: Literal["fr", "ar"] = "fr") -> dict:
    await _handoff(console, handoff_id, who.fund)
    lines = await _db(console, store.transcript, handoff_id)
    said = [line.text for line in lines if line.sender == "citizen" and not line.text.startswith("/")]
    text = " ".join(said[-SUGGESTION_LINES:]).strip()
    if not text:
        return {"ranking_id": None, "lang": None, "entries": []}
    try:
        ranking = await request.app.state.rasa.assist_rank(text[:1000], who.fund, [ui_lang],
                                                           timeout=console.settings.ASSIST_TIMEOUT_SECONDS)
    except RasaUnavailable:
        raise refuse(503, "assist_unavailable") from None
    entries = [entry for entry in ranking.get("entries", []) if isinstance(entry, dict)][:MAX_ENTRIES]
    lang = str(ranking.get("lang") or "fr")
    ranking_id = console.rankings.add(Ranking(who.account.id, who.fund, lang, [str(e.get("topic")) for e in entries]))
    return {"ranking_id": ranking_id, "lang": lang, "entries": entries}


@router.post("/{handoff_id}/claim", summary="Take the conversation (one agent wins)")
async def claim(handoff_id: int, who: SignedInDep, console: ConsoleDep) -> dict:
    await _handoff(console, handoff_id, who.fund)
    if not await _desk(console).claim(handoff_id, who):
        raise refuse(409, "already_claimed")
    return {"claimed": True}


@router.post("/{handoff_id}/reply", summary="Reply to the citizen, on their channel")
async def reply(handoff_id: int, body: ReplyRequest, who: SignedInDep, console: ConsoleDep) -> dict:
    handoff = await _handoff(console, handoff_id, who.fund)
    if handoff.status != store.CLAIMED or handoff.agent_id != who.account.id:
        raise refuse(409, "not_yours")
    text = body.text.strip()
    if not text:
        raise refuse(422, "empty_text")
    return {"message": await _desk(console).reply(handoff, who, text)}


@router.post("/{handoff_id}/hand-back", summary="Hand the conversation back to the assistant")
async def hand_back(handoff_id: int, who: SignedInDep, console: ConsoleDep) -> dict:
    await _handoff(console, handoff_id, who.fund)
    if not await _desk(console).hand_back(handoff_id, who):
        raise refuse(409, "not_yours")
    return {"status": store.RETURNED}


@router.post("/{handoff_id}/close", summary="Close the conversation with an outcome")
async def close(handoff_id: int, body: CloseRequest, who: SignedInDep, console: ConsoleDep) -> dict:
    await _handoff(console, handoff_id, who.fund)
    if not await _desk(console).close(handoff_id, who, body.outcome):
        raise refuse(409, "not_yours")
    return {"status": store.CLOSED}
