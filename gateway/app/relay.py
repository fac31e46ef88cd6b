"""The relay: one path from a citizen's turn, on any channel, to the assistant and back.

A channel (the widget's WebSocket, gateway/app/web/ws.py; Telegram, gateway/app/telegram/) keeps
only its transport and its rendering. It describes each citizen message as an `Inbound` (channel,
conversation id, fund, the raw text or a button's payload, the chosen language, extra metadata,
its rate-limit keys, the language of the gateway's own sentences) and asks the relay twice:

    message, refusal = await relay.admit(inbound)   # the text check and the rate limits, at once
    outcome = await relay.answer(inbound, message, typing=...)   # the assistant's turn, or not

`admit` refuses with a `Refusal` (code: not_text | empty | too_long | too_fast, and the sentence
to show) or returns the message to send: a button's payload as given ("/intent{...}"), typed text
with its leading slashes dropped (typed text never reaches Rasa as an intent).

`answer` builds the metadata Rasa reads (`fund`, `channel`, `lang` when the citizen chose one,
then the channel's extras), calls Rasa and times it (showing the channel's typing indicator only
if the answer takes longer than TYPING_AFTER_SECONDS), and returns an `Outcome`:

    answered   Rasa's turn (`outcome.turn`, a rasa_client.BotTurn): render it
    retry      Rasa never got the message (unreachable): keep it and send it again later
    gave_up    Rasa may have got it but did not answer: ask the citizen to ask again later
    held       a person holds the conversation (live handoff): the message went to their
               screen, the assistant never saw it; nothing to render

Every outcome is counted here, once (gateway/app/metrics.py: messages by channel and outcome,
Rasa's failures by `delivered`, Rasa's answer time), and an unexpected error is logged here
without the text. The channels count only what never becomes a turn (a binary frame, a sticker).

Human handoff (issue 17): routed here, at the gateway, not with Rasa's pause/resume events. The
gateway is the only place that can deliver a person's reply to the citizen's own channel, and a
conversation a person holds must not reach Rasa at all (no turn, no slot, no answer racing the
agent's). `relay.desk` (gateway/app/agent/handoff/desk.py, set when the console is installed)
decides before each call whether a person holds the conversation and, after each assistant turn,
whether the conversation enters its fund's inbox; `relay.deliver` carries a person's message
(or a notice) back through the channel registered for it in `relay.channels`.

Observers: `relay.observers` is a list of async callables, each called after every turn as
`await observer(channel, conversation_id, fund, text, turn)`, with `text` the message the relay
handled (typed text or a payload) and `turn` the BotTurn, or None when a person held the
conversation. An observer must not raise (a failure is logged and the conversation goes on);
the agent console's turn log registers one (gateway/app/agent/turnlog.py)."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from gateway.app.config import Settings
from gateway.app.limits import Limiter, RateLimiter, check_text
from gateway.app.messages import say
from gateway.app.metrics import Metrics
from gateway.app.payloads import may_pass
from gateway.app.rasa_client import BotTurn, RasaUnavailable

logger = logging.getLogger("sanad.gateway.relay")

ANSWERED, RETRY, GAVE_UP, HELD = "answered", "retry", "gave_up", "held"
Observer = Callable[[str, str, str, Optional[str], Optional[BotTurn]], Awaitable[None]]


@dataclass
class Inbound:
    """One citizen message as a channel hands it over."""
    channel: str  # "web" | "telegram": the metrics' label and metadata.channel
    conversation_id: str  # Rasa's sender id: "web:<session id>", "tg:<user id>"
    fund: str
    text: object  # as received: checked by `admit`
    button: bool = False  # a button's payload (or the channel's own command, "/greet")
    lang: Optional[str] = None  # the citizen's chosen answer language: metadata.lang
    extra: dict[str, Any] = field(default_factory=dict)  # more metadata (a signed shared phone)
    rate_keys: tuple[tuple[str, Hashable], ...] = ()  # (limiter name, key): ("session", sid)...
    notice_lang: Optional[str] = None  # the language of the gateway's own sentences

    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {"fund": self.fund, "channel": self.channel}
        if self.lang:
            metadata["lang"] = self.lang
        metadata.update(self.extra)
        return metadata


@dataclass(frozen=True)
class Refusal:
    code: str
    text: str
    retry_after: Optional[int] = None

    def fields(self) -> dict[str, Any]:
        """What a channel event adds beside the code and the text."""
        return {} if self.retry_after is None else {"retry_after": self.retry_after}


@dataclass
class Outcome:
    kind: str  # ANSWERED | RETRY | GAVE_UP | HELD
    turn: Optional[BotTurn] = None
    text: str = ""  # the gateway's sentence for RETRY and GAVE_UP


class Desk(Protocol):
    """The live handoff, as the relay sees it (gateway/app/agent/handoff/desk.py)."""

    async def holds(self, inbound: Inbound, message: str) -> bool:
        """True when a person holds the conversation: the message went to them."""

    async def after_turn(self, inbound: Inbound, message: str, turn: BotTurn, escalated: bool = False) -> bool:
        """After the assistant's turn (which it may complete with the gateway's sentences): True
        when the assistant has failed often enough that the conversation should go to a person.
        `escalated`: the turn answered the relay's own handoff request, not the citizen."""

    async def presence(self, channel: str, conversation_id: str, present: bool) -> None:
        """The citizen's client connected, or its last connection closed."""


class Channel(Protocol):
    async def deliver(self, conversation_id: str, fund: str, event: dict[str, Any]) -> bool:
        """Show a person's message or a handoff notice to the citizen; False if it could not."""


class Relay:
    # What the relay sends Rasa on the citizen's behalf when the assistant has failed twice in a
    # row: the same intent as the citizen's own request, so Rasa's rules do what they do for it
    # (a balance look-up in progress is cancelled, not left to resume after the handoff).
    ESCALATION = "/human_handoff"

    def __init__(self, settings: Settings, rasa: Any, metrics: Metrics,
                 limiter: Optional[Callable[[str, int, float], Limiter]] = None) -> None:
        """`limiter(name, limit, window)` makes each limiter: in this process by default, in
        Redis when the gateway's state is shared (gateway/app/state)."""
        self.settings, self.rasa, self.metrics = settings, rasa, metrics
        limiter = limiter or (lambda name, limit, window: RateLimiter(limit, window))
        self.limiters: dict[str, Limiter] = {
            "session": limiter("session", settings.RATE_SESSION_MESSAGES, settings.RATE_SESSION_WINDOW_SECONDS),
            "ip": limiter("ip", settings.RATE_IP_MESSAGES, settings.RATE_IP_WINDOW_SECONDS),
            "telegram_user": limiter("telegram_user", settings.RATE_TELEGRAM_MESSAGES,
                                     settings.RATE_TELEGRAM_WINDOW_SECONDS),
        }
        self.observers: list[Observer] = []
        self.desk: Optional[Desk] = None
        self.channels: dict[str, Channel] = {}

    # --- admission ----------------------------------------------------------------------------

    async def admit(self, inbound: Inbound) -> tuple[Optional[str], Optional[Refusal]]:
        """(the message for Rasa, None) or (None, why not). A refusal is counted."""
        text, reason = check_text(inbound.text, self.settings.MAX_MESSAGE_CHARS)
        if reason:
            length = len(inbound.text) if isinstance(inbound.text, str) else 0
            return None, self._refuse(inbound.channel, reason, say(
                reason, inbound.notice_lang, length=length, max=self.settings.MAX_MESSAGE_CHARS))
        for name, key in inbound.rate_keys:
            verdict = await self.limiters[name].hit(key)
            if not verdict.allowed:
                return None, self._refuse(inbound.channel, "too_fast", say(
                    "too_fast", inbound.notice_lang, seconds=verdict.retry_seconds), verdict.retry_seconds)
        if inbound.button and text.startswith("/"):
            if may_pass(text, inbound.channel):
                return text, None  # a quick-reply payload, sent back as the assistant gave it
            # A crafted button (/restart, /inform{...}): read as typed text (gateway/app/payloads.py).
            self.metrics.crafted_payloads.labels(inbound.channel).inc()
        return text.lstrip("/").strip() or text, None

    def _refuse(self, channel: str, code: str, text: str, retry_after: Optional[int] = None) -> Refusal:
        self.count(channel, code)
        return Refusal(code, text, retry_after)

    def count(self, channel: str, outcome: str) -> None:
        """A message that never became a turn (a binary frame, a sticker): counted all the same."""
        self.metrics.messages.labels(channel, outcome).inc()

    # --- the turn -----------------------------------------------------------------------------

    async def answer(self, inbound: Inbound, message: str,
                     typing: Optional[Callable[[], Awaitable[None]]] = None) -> Outcome:
        """The assistant's answer to an admitted message (or a person's hold on it)."""
        if self.desk is not None and await self._held(inbound, message):
            self.count(inbound.channel, HELD)
            await self._notify(inbound, message, None)
            return Outcome(HELD)
        indicator = self._typing_later(typing)
        started = time.monotonic()
        try:
            turn = await self.rasa.send(inbound.conversation_id, message, inbound.metadata())
        except RasaUnavailable as error:
            self.metrics.rasa_errors.labels(inbound.channel, str(error.delivered).lower()).inc()
            if not error.delivered:
                self.count(inbound.channel, RETRY)
                return Outcome(RETRY, text=say("unavailable", inbound.notice_lang))
            return self._gave_up(inbound)
        except Exception as error:  # a bug: never a loop of retries, never the text in the log
            logger.error("unexpected error while answering a %s message: %s", inbound.channel, type(error).__name__)
            return self._gave_up(inbound)
        finally:
            if indicator is not None:
                indicator.cancel()
        self.metrics.rasa_latency.labels(inbound.channel).observe(time.monotonic() - started)
        self.count(inbound.channel, ANSWERED)
        await self._after(inbound, message, turn)
        return Outcome(ANSWERED, turn)

    def _typing_later(self, typing: Optional[Callable[[], Awaitable[None]]]) -> Optional[asyncio.Task]:
        """The channel's typing indicator, shown only if the answer is slow to come (cancelled
        when it comes): most answers take a few tens of milliseconds, and each indicator is a
        Bot API call on Telegram (which asks bots to send it only for a noticeable wait)."""
        if typing is None:
            return None

        async def later() -> None:
            await asyncio.sleep(self.settings.TYPING_AFTER_SECONDS)
            try:
                await typing()
            except Exception as error:  # an indicator never fails a turn
                logger.warning("typing indicator not shown: %s", type(error).__name__)

        return asyncio.create_task(later())

    def _gave_up(self, inbound: Inbound) -> Outcome:
        self.count(inbound.channel, "unavailable_gave_up")
        return Outcome(GAVE_UP, text=say("unavailable_gave_up", inbound.notice_lang))

    async def _held(self, inbound: Inbound, message: str) -> bool:
        try:
            return await self.desk.holds(inbound, message)
        except Exception as error:  # the console's database down: the assistant answers meanwhile
            logger.error("handoff desk failed before a turn: %s", type(error).__name__)
            return False

    async def _after(self, inbound: Inbound, message: str, turn: BotTurn) -> None:
        """The desk's look at the turn (it may open a handoff and complete the reply), the
        escalation after repeated failures, and the observers."""
        escalate = False
        if self.desk is not None:
            try:
                escalate = await self.desk.after_turn(inbound, message, turn)
            except Exception as error:
                logger.error("handoff desk failed after a turn: %s", type(error).__name__)
        await self._notify(inbound, message, turn)
        if escalate:
            await self._escalate(inbound, turn)

    async def _escalate(self, inbound: Inbound, turn: BotTurn) -> None:
        """Ask Rasa for the handoff on the citizen's behalf; its reply follows the turn's."""
        try:
            second = await self.rasa.send(inbound.conversation_id, self.ESCALATION, inbound.metadata())
            await self.desk.after_turn(inbound, self.ESCALATION, second, escalated=True)
        except Exception as error:  # the first answer stands; the next failure tries again
            logger.warning("handoff after repeated failures not opened: %s", type(error).__name__)
            return
        await self._notify(inbound, self.ESCALATION, second)
        turn.messages.extend(second.messages)
        turn.sanad.update(second.sanad)

    async def _notify(self, inbound: Inbound, message: str, turn: Optional[BotTurn]) -> None:
        for observer in list(self.observers):
            try:
                await observer(inbound.channel, inbound.conversation_id, inbound.fund, message, turn)
            except Exception as error:  # noqa: BLE001 (an observer never breaks a conversation)
                logger.warning("turn observer failed: %s", type(error).__name__)

    # --- back to the citizen ------------------------------------------------------------------

    async def presence(self, channel: str, conversation_id: str, present: bool) -> None:
        """A channel's client came or went (the widget's connections): shown in the inbox."""
        if self.desk is None:
            return
        try:
            await self.desk.presence(channel, conversation_id, present)
        except Exception as error:
            logger.error("handoff desk failed on presence: %s", type(error).__name__)

    async def deliver(self, channel: str, conversation_id: str, fund: str, event: dict[str, Any]) -> bool:
        """A person's message (`{"type": "agent", "id", "text", "lang"}`) or a handoff notice
        (`{"type": "handoff", "id", "status", "text", "lang"}`), through the citizen's channel."""
        target = self.channels.get(channel)
        if target is None:
            logger.warning("no %s channel to deliver a handoff event to", channel)
            return False
        try:
            return await target.deliver(conversation_id, fund, event)
        except Exception as error:
            logger.error("delivery to %s failed: %s", channel, type(error).__name__)
            return False
