"""Rasa's REST channel with the request checked before Rasa reads it (bot/credentials.yml).

Rasa's RestInput reads the body with `request.json.get(...)`: a body that is no JSON object (`""`,
`[]`, `null`) answered 500 with a traceback in the log, and a message that is not a string, or has
nothing to read, reached the NLU and came back as 200 with no reply. SanadRestInput keeps the same
route (POST /webhooks/rest/webhook), answers and behaviour, and first refuses a malformed request
with 400 and a JSON body saying what is wrong, `{"error": "..."}`:

    {"sender": "<conversation id>", "message": "<text>", "metadata": {"fund": "cnss_ma", ...}}

Refused rather than answered in the chat:
- a message that is empty or blank, or holds a lone UTF-16 surrogate: the gateway, the citizens'
  only way in, refuses these itself with a sentence in the citizen's language (gateway/app/limits.py),
  so what reaches Rasa is a faulty client, which needs the reason, not a chat reply. The NLU still
  handles them without raising (bot/nlu/components.py), for Rasa's other entry points. A message of
  only invisible characters (a zero-width space), which the gateway lets through, is answered: the
  NLU routes it to `unreadable` and the citizen is asked to type the question;
- an unknown `metadata.fund`: the deployment's gateway names its own fund, so an unknown one is a
  misconfiguration or a forged request. Answering it silently as the default fund could give one
  country's rules to the other's citizens; a 400 shows the error at once.
Nothing of the request is logged: only the reason of a refusal.

A message whose turn could not be kept, because the conversation store (PostgreSQL) or the lock
store (Redis) cannot be reached, is answered 503 `{"error": "..."}`, never an empty 200 or a
reply given without the conversation's state (bot/store_outage.py): nothing of it was kept, and
the same message sent again once the store is back is answered where the conversation was."""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import store_outage
from bot.knowledge import FUNDS
from bot.nlu.text import without_surrogates

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 200  # the gateway's ids are "tg:<user id>" and "web:<session id>"
BODY_SHAPE = '{"sender": "<conversation id>", "message": "<text>", "metadata": {...}}'


class BadRequest(ValueError):
    """A request the channel answers with 400, saying why."""


def check_body(body: Any) -> None:
    """Nothing when RestInput can take `body`; else BadRequest saying what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object: {BODY_SHAPE}")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        raise BadRequest(f"`sender` must be a non-empty string of at most {MAX_SENDER_CHARS} characters")
    if not isinstance(message, str):
        raise BadRequest("`message` must be a string")
    if without_surrogates(message) != message:
        raise BadRequest("`message` is not valid text: it holds a lone UTF-16 surrogate")
    if not message.strip():
        raise BadRequest("`message` is empty")
    if not isinstance(body.get("input_channel", ""), str):
        raise BadRequest("`input_channel` must be a string")
    check_metadata(body.get("metadata"))


def check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise BadRequest("`metadata` must be a JSON object")
    fund = metadata.get("fund")
    if fund is not None and fund not in FUNDS:
        raise BadRequest(f"unknown fund {json.dumps(fund)[:40]} in `metadata.fund` "
                         f"(expected one of {', '.join(FUNDS)})")


def json_body(request: Request) -> Any:
    try:
        return request.json
    except Exception:  # Sanic raises its own InvalidUsage on malformed JSON
        raise BadRequest("the body is not valid JSON")


class SanadRestInput(RestInput):
    """RestInput under the same name (`rest`, hence the same URL), refusing malformed requests."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(guarded(on_new_message))

        @blueprint.middleware("request")
        async def refuse_malformed(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            try:
                check_body(json_body(request))
            except BadRequest as problem:
                # Nothing of the request: it may hold anything, personal data included.
                logger.info("REST channel: a malformed request refused with 400")
                return response.json({"error": str(problem)}, status=400)
            request.ctx.storage = store_outage.begin()  # seen by the handler: same task, same context
            return None

        @blueprint.middleware("response")
        async def refuse_unkept(request: Request, answer: HTTPResponse) -> Optional[HTTPResponse]:
            storage = getattr(request.ctx, "storage", None)
            if storage is None or storage.kept():
                return None
            which = "conversation store" if storage.store_failed else "lock store"
            logger.error("REST channel: the %s cannot be reached; the message was not kept (503)", which)
            return response.json({"error": f"the {which} cannot be reached: the message was not kept, "
                                           "send it again in a few seconds"}, status=503)

        return blueprint


def guarded(on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Callable[[UserMessage], Awaitable[None]]:
    """Rasa's message handler, with a lock store failure noted for the response (RestInput would
    log it with the message's text, and answer 200 with whatever was collected)."""
    from rasa.core.lock_store import LockError

    lock_errors: tuple = (LockError,)
    try:
        import redis

        lock_errors += (redis.RedisError,)
    except ImportError:  # no Redis lock store without the package
        pass

    async def handle(message: UserMessage) -> None:
        try:
            await on_new_message(message)
        except lock_errors as error:
            turn = store_outage.CURRENT.get()
            if turn is None:
                raise
            turn.lock_failed = True
            logger.error("REST channel: the lock store failed: %s", type(error).__name__)

    return handle
