"""A local stand-in of Telegram's Bot API on 127.0.0.1, for python-telegram-bot to talk to.

It speaks the Bot API's HTTP protocol (`POST /bot<token>/<method>`, form-encoded or JSON bodies,
`{"ok": true, "result": ...}` answers, errors with the same HTTP status), serves updates the test
pushes through getUpdates (long poll, with offset), and records every call so tests can assert
what the bot sent. Methods: getMe, deleteWebhook, setWebhook, getWebhookInfo, getUpdates,
sendMessage, sendChatAction, answerCallbackQuery, editMessageReplyMarkup, editMessageText.

It runs in the test's own event loop (uvicorn as a task): start() / stop(), or `async with`."""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.tooling.services import free_port

# Parameters PTB sends JSON-encoded inside form bodies.
JSON_PARAMS = {"reply_markup", "allowed_updates", "link_preview_options", "entities", "reply_parameters",
               "caption_entities", "message_effect_id"}
COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(@\w+)?$")
BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Sanad", "username": "sanad_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}




@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


def user(user_id: int, language_code: Optional[str] = "fr", first_name: str = "Amina") -> dict[str, Any]:
    data = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        data["language_code"] = language_code
    return data


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-token") -> None:
        self.token = token
        self.port = free_port()
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.webhook: Optional[dict[str, Any]] = None
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self.bot_messages: dict[int, dict[str, Any]] = {}  # message_id -> message (as last edited)
        self.sent_messages: list[dict[str, Any]] = []  # every message the bot sent, as returned to it
        self.errors: list[BaseException] = []  # a test's PTB error handler fills it: wait_for fails fast
        self._changed: Optional[asyncio.Condition] = None
        self._server: Optional[uvicorn.Server] = None
        self._task: Optional[asyncio.Task] = None
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["POST", "GET"])])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> "FakeTelegram":
        self._changed = asyncio.Condition()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
            async with self._changed:
                self._changed.notify_all()
            await asyncio.wait_for(self._task, 10)

    async def __aenter__(self) -> "FakeTelegram":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what tests push ----------------------------------------------------------------------

    async def push(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **update}
        self.updates.append(update)
        async with self._changed:
            self._changed.notify_all()
        return update

    def message(self, sender: dict[str, Any], text: Optional[str] = None, **extra: Any) -> dict[str, Any]:
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": sender["id"], "type": "private", "first_name": sender["first_name"]},
                   "from": sender, **extra}
        if text is not None:
            message["text"] = text
            command = text.split()[0] if text.split() else ""
            if COMMAND.match(command):  # as Telegram does: only Latin commands are entities
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"message": message}

    async def send_text(self, sender: dict[str, Any], text: str) -> dict[str, Any]:
        return await self.push(self.message(sender, text))

    async def send_contact(self, sender: dict[str, Any], phone: str,
                           contact_user_id: Optional[int]) -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": sender["first_name"]}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return await self.push(self.message(sender, contact=contact))

    async def press(self, sender: dict[str, Any], bot_message: dict[str, Any], data: str) -> dict[str, Any]:
        return await self.push({"callback_query": {
            "id": f"cb{next(self._callback_ids)}", "from": sender, "chat_instance": f"ci{sender['id']}",
            "data": data, "message": bot_message}})

    # --- what tests read ----------------------------------------------------------------------

    def chat(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages the bot sent to a chat, as Telegram returned them (with message_id)."""
        return [m for m in self.sent_messages if m["chat"]["id"] == chat_id]

    def sent(self, method: str = "sendMessage", chat_id: Optional[int] = None) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method
                and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            if self.errors:
                raise AssertionError(f"the bot failed: {self.errors!r}")
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s; calls: "
                                     f"{[(c.method, c.params.get('text', '')[:60]) for c in self.calls]}")
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), 0.2)
                except asyncio.TimeoutError:
                    pass

    async def wait_messages(self, chat_id: int, count: int, timeout: float = 20.0,
                            since: int = 0) -> list[dict[str, Any]]:
        """The bot messages of a chat once there are at least `count` after the first `since`."""
        def enough() -> Optional[list[dict[str, Any]]]:
            messages = self.sent("sendMessage", chat_id)[since:]
            return messages if len(messages) >= count else None
        return await self.wait_for(enough, timeout)

    # --- the Bot API --------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.path_params["method"]
        params = await self._params(request)
        self.calls.append(Call(method, params))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            response = self._error(400, f"Bad Request: method {method} is not implemented by the stand-in")
        else:
            response = await handler(params)
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.body()
            return json.loads(body) if body else {}
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/"):  # files: not needed by the channel
            raise ValueError("multipart uploads are not supported by the stand-in")
        body = (await request.body()).decode()
        params: dict[str, Any] = {}
        for key, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
            if key in JSON_PARAMS and isinstance(value, str):
                value = json.loads(value)
            params[key] = value
        return params

    @staticmethod
    def _ok(result: Any) -> JSONResponse:
        return JSONResponse({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str) -> JSONResponse:
        return JSONResponse({"ok": False, "error_code": status, "description": description},
                            status_code=status)

    async def _m_getMe(self, params: dict[str, Any]) -> JSONResponse:
        return self._ok(BOT_USER)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook = None
        return self._ok(True)

    async def _m_setWebhook(self, params: dict[str, Any]) -> JSONResponse:
        if not str(params.get("url", "")).startswith("https://"):
            return self._error(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        self.webhook = params
        return self._ok(True)

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> JSONResponse:
        return self._ok({"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                         "pending_update_count": 0})

    async def _m_getUpdates(self, params: dict[str, Any]) -> JSONResponse:
        if self.webhook:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones go
        deadline = time.monotonic() + min(timeout, 5.0)
        stopping = lambda: self._server is not None and self._server.should_exit  # noqa: E731
        while not self.updates and time.monotonic() < deadline and not stopping():
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), max(0.01, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
        return self._ok(self.updates[:limit])

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private", "first_name": "Amina"},
                   "from": BOT_USER, "text": params.get("text", "")}
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # only inline keyboards come back in a Message
        return message

    async def _m_sendMessage(self, params: dict[str, Any]) -> JSONResponse:
        text = params.get("text", "")
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return self._error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if len(button.get("callback_data", "").encode()) > 64:
                        return self._error(400, "Bad Request: BUTTON_DATA_INVALID")
        message = self._bot_message(params)
        self.bot_messages[message["message_id"]] = message
        self.sent_messages.append(message)
        return self._ok(message)

    async def _m_sendChatAction(self, params: dict[str, Any]) -> JSONResponse:
        return self._ok(True)

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> JSONResponse:
        return self._ok(True)

    async def _m_editMessageText(self, params: dict[str, Any]) -> JSONResponse:
        message = self.bot_messages.get(int(params.get("message_id", 0)))
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        message = {**message, "text": params.get("text", "")}
        message.pop("reply_markup", None)
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        self.bot_messages[message["message_id"]] = message
        return self._ok(message)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> JSONResponse:
        message = self.bot_messages.get(int(params.get("message_id", 0)))
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        message = dict(message)
        message.pop("reply_markup", None)
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        self.bot_messages[message["message_id"]] = message
        return self._ok(message)


# --- as a process of its own (`sanad fuzz` runs the gateway in webhook mode against it) -------

def _serve(port: int, token: str) -> None:
    """`python -m tests.gateway.fake_telegram --port P [--token T]`: the stand-in until SIGTERM,
    with `GET /_sent?chat_id=C` listing the messages the bot sent (to chat C), for a caller in
    another process, and `GET /_wait` waiting for the next ones."""
    fake = FakeTelegram(token)
    fake.port = port

    async def sent(request: Request) -> JSONResponse:
        chat_id = request.query_params.get("chat_id")
        return JSONResponse(fake.sent("sendMessage", int(chat_id) if chat_id else None))

    async def wait(request: Request) -> JSONResponse:
        """`GET /_wait?chat_id=C&since=N&timeout=S`: the messages sent to chat C after its first N,
        as soon as there is one (`sanad bench` times a Telegram turn with it); 504 after S seconds."""
        query = request.query_params
        try:
            chat_id, since = int(query["chat_id"]), int(query.get("since", 0))
            messages = await fake.wait_for(lambda: fake.chat(chat_id)[since:], float(query.get("timeout", 20)))
        except AssertionError as error:
            return JSONResponse({"error": str(error)[:200]}, status_code=504)
        return JSONResponse(messages)

    fake.app.router.routes.append(Route("/_sent", sent, methods=["GET"]))
    fake.app.router.routes.append(Route("/_wait", wait, methods=["GET"]))

    async def main() -> None:
        fake._changed = asyncio.Condition()
        config = uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        fake._server = uvicorn.Server(config)  # uvicorn ends it on SIGTERM
        await fake._server.serve()

    asyncio.run(main())


if __name__ == "__main__":
    import argparse

    options = argparse.ArgumentParser(description=_serve.__doc__)
    options.add_argument("--port", type=int, required=True)
    options.add_argument("--token", default="123456:TEST-token")
    arguments = options.parse_args()
    _serve(arguments.port, arguments.token)
