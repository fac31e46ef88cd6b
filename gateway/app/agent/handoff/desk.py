"""The live handoff desk: where a citizen's conversation meets a fund's agents (issue 17).

Routed at the gateway, not with Rasa's pause/resume events: the gateway is the only component
that can put a person's reply on the citizen's own channel (the widget's WebSocket, Telegram), and
a conversation an agent holds must not reach Rasa at all: no turn recorded, no form step taken,
no assistant answer racing the agent's. The relay (gateway/app/relay.py) asks the desk before
each turn (`holds`) and after it (`after_turn`). Before a turn, the question "does a person hold
this conversation?" is answered from this process's index of open handoffs (index.py), and only a
listed conversation costs a database query.

Into the inbox. A conversation enters its fund's inbox when the assistant's decision is the
handoff (the citizen asked for a person, or chose "none of these" under a clarification), or
after `HANDOFF_FAILURES` failures in a row (declined, or a clarification followed by anything but
a choice or an answer): the relay then sends Rasa the handoff intent on the citizen's behalf, so
Rasa's own rules apply (a balance look-up in progress is cancelled). The handoff sentence of the
action (actions/conversation.py, the fund's official channels) is replaced by the desk's, in the
citizen's language: a person will answer here, position and rough wait, when the fund's agents
are at work (opening hours per fund, in its time zone); otherwise when they next open, with the
official channels meanwhile; the request waits in the inbox (never lost). A fund with no opening
hours configured has no live handoff: the action's sentence stands.

While waiting, the assistant still answers (the citizen may find the answer meanwhile); every
message is added to the transcript. Once an agent claims the conversation (one conditional
UPDATE: of two agents, one wins), the citizen's messages go to the agent's screen only. The agent
hands it back (a balance look-up started meanwhile is cancelled through Rasa, and the citizen is
told) or closes it with an outcome. Transcripts hold masked text only (bot.masking.mask_text).

Events travel on a Bus (gateway/app/agent/handoff/bus.py): `fund:<fund>` for the consoles (inbox
and transcript updates, masked), `citizen` for what a citizen's channel shows (a person's message,
a notice), delivered by this process's relay. Behind several gateway processes (a Redis bus) every
process hears a `citizen` event and the one that wins `first_delivery` carries it (one Telegram
message; the widget's connections on any process get it through the web sessions' own channel)."""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Awaitable, Callable, Optional

from bot.registry import registry
from gateway.app.agent.funds import official_channels
from gateway.app.agent.handoff import store
from gateway.app.agent.handoff.bus import Bus, InProcessBus
from gateway.app.agent.handoff.hours import OpeningHours
from gateway.app.agent.handoff.index import OPENED_TOPIC, OpenHandoffIndex
from gateway.app.messages import say, ui_lang
from gateway.app.rasa_client import BotMessage, BotTurn

logger = logging.getLogger("sanad.gateway.agent.handoff")

CITIZEN_TOPIC = "citizen"
FORM_STEPS = ("affiliate_number", "birth_date", "otp_code")
RECENT_LINES = 10  # the lines before the handoff an agent sees


def fund_topic(fund: str) -> str:
    return f"fund:{fund}"


@dataclass
class Memory:
    """What the desk remembers of a conversation between turns (this process only)."""
    failures: int = 0
    clarify_pending: bool = False
    form_open: bool = False  # the balance form asked its last question
    # (sender, text): the citizen's words masked at once; the assistant's as assistant_text gives
    # them (its own words, never an account answer), masked where they are stored
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT_LINES))
    waiting: Optional[int] = None  # the waiting handoff the current turn belongs to


class Memories:
    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], Memory] = OrderedDict()

    def get(self, channel: str, conversation_id: str) -> Memory:
        key = (channel, conversation_id)
        memory = self._items.get(key)
        if memory is None:
            memory = self._items[key] = Memory()
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        self._items.move_to_end(key)
        return memory


def assistant_text(turn: BotTurn) -> str:
    """The assistant's reply as the transcript keeps it: an answer about the account never."""
    if turn.decision == "account_balance" and turn.sanad.get("step") == "result":
        return "[réponse sur le compte du citoyen : non conservée]"
    return "\n".join(m.text for m in turn.messages if m.kind != "source")


class HandoffDesk:
    def __init__(self, console, relay, bus: Optional[Bus] = None,
                 first_delivery: Optional[Callable[[str], Awaitable[bool]]] = None) -> None:
        self.console, self.relay = console, relay
        self.settings = console.settings
        self.bus: Bus = bus or InProcessBus()
        self.first_delivery = first_delivery or _always
        self.memories = Memories()
        self.hours = {fund: OpeningHours(spec, registry().fund(fund).time_zone)
                      for fund, spec in json.loads(self.settings.HANDOFF_HOURS).items()}
        # Which conversations may be held, from memory: the database only for those (index.py).
        self.open_index = OpenHandoffIndex(lambda: self._db(store.open_keys),
                                           self.settings.HANDOFF_INDEX_REFRESH_SECONDS)
        self._dispatchers: list[asyncio.Task] = []

    @property
    def now(self):
        return self.console.clock()

    async def _db(self, action: Callable, *args: Any, **kwargs: Any) -> Any:
        """A store function in its own database session, off the event loop."""
        def run():
            with self.console.db() as db:
                return action(db, *args, **kwargs)
        return await asyncio.to_thread(run)

    # --- the relay's side -----------------------------------------------------------------

    async def holds(self, inbound, message: str) -> bool:
        memory = self.memories.get(inbound.channel, inbound.conversation_id)
        memory.waiting = None
        if not await self.open_index.may_hold(inbound.channel, inbound.conversation_id):
            return False
        handoff = await self._db(store.open_for, inbound.channel, inbound.conversation_id)
        if handoff is None:  # ended since the list was read
            self.open_index.discard(inbound.channel, inbound.conversation_id)
            return False
        await self._record(handoff, "citizen", message)
        if handoff.status == store.CLAIMED:
            return True
        memory.waiting = handoff.id
        return False

    async def after_turn(self, inbound, message: str, turn: BotTurn, escalated: bool = False) -> bool:
        memory = self.memories.get(inbound.channel, inbound.conversation_id)
        if not escalated:
            memory.recent.append(("citizen", store.masked(message)))
        self._follow_form(memory, turn)
        if turn.decision == "human_handoff" and inbound.fund in self.hours:
            await self._open(inbound, turn, memory, reason="failures" if escalated else "asked")
            return False
        # Not masked here: store.open_handoff and store.add_message mask what they write. Masking
        # every reply on every turn, for the few conversations that ever reach a person, was 5% of
        # the gateway's CPU under load (issue 18; an answer is several hundred characters).
        reply = assistant_text(turn)
        memory.recent.append(("assistant", reply))
        if memory.waiting is not None:
            await self._record_id(memory.waiting, inbound.fund, "assistant", reply)
            return False
        return self._count_failure(memory, turn) and inbound.fund in self.hours

    @staticmethod
    def _follow_form(memory: Memory, turn: BotTurn) -> None:
        if turn.decision == "account_balance":
            memory.form_open = turn.sanad.get("step") in FORM_STEPS
        elif turn.decision in ("cancel", "human_handoff"):
            memory.form_open = False

    def _count_failure(self, memory: Memory, turn: BotTurn) -> bool:
        """True when the assistant has now failed often enough in a row."""
        decision = turn.decision
        if decision in ("answer", "account_balance"):
            memory.failures, memory.clarify_pending = 0, False
            return False
        unsettled = memory.clarify_pending  # the previous turn offered choices; none was taken
        memory.clarify_pending = decision == "clarify"
        memory.failures += int(unsettled) + int(decision == "out_of_scope")
        if memory.failures >= self.settings.HANDOFF_FAILURES:
            memory.failures, memory.clarify_pending = 0, False
            return True
        return False

    async def _open(self, inbound, turn: BotTurn, memory: Memory, reason: str) -> None:
        lang = turn.lang or inbound.lang or ui_lang(inbound.notice_lang)
        now = self.now
        handoff, created = await self._db(
            store.open_handoff, fund=inbound.fund, channel=inbound.channel, conversation_id=inbound.conversation_id,
            lang=lang, reason=reason, now=now, history=list(memory.recent))
        memory.failures, memory.clarify_pending, memory.recent = 0, False, deque(maxlen=RECENT_LINES)
        self.open_index.add(inbound.channel, inbound.conversation_id)
        if created:  # the other gateway processes' indexes
            await self.bus.publish(OPENED_TOPIC, {"channel": inbound.channel,
                                                  "conversation_id": inbound.conversation_id})
        position = await self._db(store.position, handoff)
        state, text = self._promise(inbound.fund, lang, position, now)
        state["status"] = handoff.status
        if turn.messages:
            turn.messages[-1] = BotMessage(text)
        else:
            turn.messages.append(BotMessage(text))
        turn.sanad["handoff"] = state
        await self._record(handoff, "system", text)
        if created:
            logger.info("handoff %s opened (%s, %s)", handoff.id, inbound.channel, reason)
        await self._publish_handoff(handoff)

    def _promise(self, fund: str, lang: str, position: int, now) -> tuple[dict[str, Any], str]:
        """What the citizen is told: a person soon (position, rough wait), or at the next opening."""
        hours = self.hours[fund]
        if hours.is_open(now):
            minutes = position * self.settings.HANDOFF_MINUTES_PER_CONVERSATION
            return ({"open": True, "position": position, "wait_minutes": minutes},
                    say("handoff_waiting", lang, position=position, minutes=minutes))
        opening = hours.next_opening(now)
        return ({"open": False, "position": position},
                say("handoff_closed", lang, day=opening.strftime("%d/%m/%Y"), time=opening.strftime("%H:%M"),
                    channels=official_channels(fund, ui_lang(lang))))

    async def presence(self, channel: str, conversation_id: str, present: bool) -> None:
        """A web citizen's widget connected (present) or its last connection closed."""
        if not await self.open_index.may_hold(channel, conversation_id):
            return  # no handoff to show the citizen's presence on
        handoff = await self._db(store.set_presence, channel, conversation_id, None if present else self.now)
        if handoff is not None:
            await self._publish_handoff(handoff)

    # --- the agents' side -----------------------------------------------------------------

    async def claim(self, handoff_id: int, who) -> bool:
        if not await self._db(store.claim, handoff_id, who.fund, who.account.id, self.now):
            return False
        handoff = await self._db(store.get, handoff_id, who.fund)
        await self._record(handoff, "system", f"{who.account.name} : prise en charge", author=who.account.name)
        await self._tell_citizen(handoff, "claimed", say("handoff_claimed", handoff.lang))
        await self._publish_handoff(handoff)
        return True

    async def reply(self, handoff, who, text: str) -> dict[str, Any]:
        """The agent's reply: to the citizen as written, to the transcript masked."""
        now = self.now
        row = await self._db(store.add_message, handoff.id, "agent", text, now, author=who.account.name)
        await self._db(store.note_reply, handoff.id, now)
        message = store.message_json(row)
        await self.bus.publish(fund_topic(handoff.fund), {"type": "message", "handoff_id": handoff.id,
                                                          "message": message})
        await self._to_citizen(handoff, {"type": "agent", "id": f"agent-{row.id}", "text": text,
                                         "lang": handoff.lang})
        return message

    async def hand_back(self, handoff_id: int, who) -> bool:
        if not await self._db(store.hand_back, handoff_id, who.fund, who.account.id, self.now):
            return False
        handoff = await self._db(store.get, handoff_id, who.fund)
        self.open_index.discard(handoff.channel, handoff.conversation_id)
        memory = self.memories.get(handoff.channel, handoff.conversation_id)
        text = say("handoff_returned", handoff.lang)
        if memory.form_open and await self._cancel_form(handoff):
            memory.form_open = False
            text = f"{text} {say('handoff_balance_stopped', handoff.lang)}"
        memory.failures, memory.clarify_pending = 0, False
        await self._record(handoff, "system", text)
        await self._tell_citizen(handoff, "returned", text)
        await self._publish_handoff(handoff)
        return True

    async def close(self, handoff_id: int, who, outcome: str) -> bool:
        if not await self._db(store.close, handoff_id, who.fund, who.account.id, outcome, self.now):
            return False
        handoff = await self._db(store.get, handoff_id, who.fund)
        self.open_index.discard(handoff.channel, handoff.conversation_id)
        text = say("handoff_ended", handoff.lang)
        await self._record(handoff, "system", text)
        await self._tell_citizen(handoff, "closed", text)
        await self._publish_handoff(handoff)
        return True

    async def _cancel_form(self, handoff) -> bool:
        """A balance look-up the citizen started while waiting is not resumed silently after the
        hand-back: Rasa's own cancel rule ends it (its reply is replaced by the desk's notice)."""
        try:
            await self.relay.rasa.send(handoff.conversation_id, "/cancel",
                                       {"fund": handoff.fund, "channel": handoff.channel})
        except Exception as error:
            logger.warning("balance look-up not cancelled at hand-back: %s", type(error).__name__)
            return False
        return True

    # --- events -----------------------------------------------------------------------------

    async def _record(self, handoff, sender: str, text: str, author: Optional[str] = None) -> None:
        row = await self._db(store.add_message, handoff.id, sender, text, self.now, author=author)
        await self.bus.publish(fund_topic(handoff.fund), {"type": "message", "handoff_id": handoff.id,
                                                          "message": store.message_json(row)})

    async def _record_id(self, handoff_id: int, fund: str, sender: str, text: str) -> None:
        row = await self._db(store.add_message, handoff_id, sender, text, self.now)
        await self.bus.publish(fund_topic(fund), {"type": "message", "handoff_id": handoff_id,
                                                  "message": store.message_json(row)})

    async def _publish_handoff(self, handoff) -> None:
        agents = await self._db(store.agent_names, [handoff])
        await self.bus.publish(fund_topic(handoff.fund), {"type": "handoff", "handoff": store.summary(
            handoff, self.now, self.gone_after, agents)})

    @property
    def gone_after(self) -> timedelta:
        return timedelta(seconds=self.settings.HANDOFF_GONE_AFTER_SECONDS)

    async def _tell_citizen(self, handoff, status: str, text: str) -> None:
        await self._to_citizen(handoff, {"type": "handoff", "id": f"handoff-{handoff.id}-{status}",
                                         "status": status, "text": text, "lang": handoff.lang})

    async def _to_citizen(self, handoff, event: dict[str, Any]) -> None:
        await self.bus.publish(CITIZEN_TOPIC, {"channel": handoff.channel, "conversation_id": handoff.conversation_id,
                                               "fund": handoff.fund, "event": event,
                                               "delivery": uuid.uuid4().hex})

    # --- this process's deliveries ----------------------------------------------------------

    async def start(self) -> None:
        """Deliver the `citizen` topic's events through this process's channels, and hear of the
        handoffs other processes open."""
        for listen in (self._dispatch, self._hear_opened):
            ready = asyncio.Event()
            self._dispatchers.append(asyncio.create_task(listen(ready)))
            await ready.wait()

    async def _dispatch(self, ready: asyncio.Event) -> None:
        async with self.bus.subscribe(CITIZEN_TOPIC) as events:
            ready.set()
            async for item in events:
                if await self._mine(item["delivery"]):
                    await self.relay.deliver(item["channel"], item["conversation_id"], item["fund"],
                                             item["event"])

    async def _hear_opened(self, ready: asyncio.Event) -> None:
        async with self.bus.subscribe(OPENED_TOPIC) as events:
            ready.set()
            async for item in events:
                self.open_index.add(item["channel"], item["conversation_id"])

    async def _mine(self, delivery: str) -> bool:
        """True when this process carries the event (every gateway process hears it)."""
        try:
            return await self.first_delivery(delivery)
        except Exception as error:  # Redis unreachable: another process may deliver it
            logger.error("handoff delivery not claimed: %s", type(error).__name__)
            return False

    async def stop(self) -> None:
        for task in self._dispatchers:
            task.cancel()
        self._dispatchers = []


async def _always(delivery: str) -> bool:
    return True  # one process: every event it hears is its own to deliver
