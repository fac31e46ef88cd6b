"""The Telegram channel: a python-telegram-bot Application whose handlers carry each message to
Rasa as conversation `tg:<telegram user id>` and the replies back.

- /start greets in the user's language (Telegram's language_code, or their choice);
  /langue, /lang, /language and /لغة offer fr / ar / en, kept per user and sent as metadata.lang.
- Rasa's buttons become inline keyboards (callback data = the payload, or a short key when the
  payload is over 64 bytes); a press is answered, the keyboard replaced by the choice.
- A reply with `accept_contact` shows a "share my phone number" keyboard; a shared contact goes
  to Rasa (`/share_contact`, metadata.shared_phone) only when it is the sender's own, signed for
  this conversation (metadata.contact_proof, actions/balance/contact_proof.py): the balance form
  accepts no phone without that signature.
- When Rasa cannot be reached, the message is kept and sent again (in order) as soon as it is
  back; the citizen is told so.
Nothing here logs a message text, a phone number or a contact."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncIterator, Optional

from telegram import (LinkPreviewOptions, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update)
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import (Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler,
                          filters)

from actions.balance import contact_proof
from gateway.app.config import Settings
from gateway.app.limits import RateLimiter, check_text
from gateway.app.messages import LANGS, say, ui_lang
from gateway.app.metrics import Metrics
from gateway.app.rasa_client import BotTurn, RasaClient, RasaUnavailable
from gateway.app.telegram.keyboards import (LANG_PREFIX, CallbackKeys, contact_keyboard, inline_keyboard,
                                            language_keyboard)
from gateway.app.telegram.text import TELEGRAM_LIMIT, split_text

logger = logging.getLogger("sanad.gateway.telegram")

LANG_COMMANDS = ("langue", "lang", "language")
ARABIC_LANG_COMMAND = r"^/لغة(?:@\w+)?\s*$"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def conversation_id(user_id: int) -> str:
    """Rasa's conversation id for a Telegram user."""
    return f"tg:{user_id}"


@dataclass
class Job:
    """One citizen message on its way to Rasa."""
    user_id: int
    chat_id: int
    text: str
    metadata: dict[str, Any]
    user_data: dict[str, Any]
    language_code: Optional[str]


class KeyedLocks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Any, asyncio.Lock] = {}
        self._users: dict[Any, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]


def notice_lang(user_data: dict[str, Any], language_code: Optional[str]) -> str:
    """The language of the gateway's own sentences for this user: their choice, else the
    language of the last reply, else Telegram's language_code."""
    return ui_lang(user_data.get("lang") or user_data.get("reply_lang") or language_code)


def normalise_phone(phone: str) -> str:
    """Telegram sends the number with or without "+": the international form, always with it."""
    digits = "".join(c for c in phone if c.isdigit())
    return f"+{digits}" if digits else phone.strip()


class TelegramChannel:
    def __init__(self, settings: Settings, rasa: RasaClient, metrics: Metrics,
                 retry_delays: tuple[float, ...] = (2, 4, 8, 15, 30, 60), retry_for: float = 600.0) -> None:
        self.settings, self.rasa, self.metrics = settings, rasa, metrics
        self.limiter = RateLimiter(settings.RATE_TELEGRAM_MESSAGES, settings.RATE_TELEGRAM_WINDOW_SECONDS)
        self.locks = KeyedLocks()
        self.keys = CallbackKeys()
        self.retry_delays, self.retry_for = retry_delays, retry_for
        self.pending: dict[int, deque[Job]] = {}
        self._tasks: set[asyncio.Task] = set()
        self.application = self._build()

    # --- set-up ---------------------------------------------------------------------------

    def _build(self) -> Application:
        api = self.settings.TELEGRAM_API_BASE_URL.rstrip("/")
        builder = (Application.builder().token(self.settings.TELEGRAM_BOT_TOKEN)
                   .base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
                   .concurrent_updates(True))  # users in parallel; each user's messages in order (locks)
        if self.settings.TELEGRAM_MODE == "webhook":
            builder = builder.updater(None)
        app = builder.build()
        private = filters.ChatType.PRIVATE
        new = filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler("start", self.on_start, filters=private & new))
        app.add_handler(CommandHandler(list(LANG_COMMANDS), self.on_lang_command, filters=private & new))
        app.add_handler(MessageHandler(private & new & filters.Regex(ARABIC_LANG_COMMAND),
                                       self.on_lang_command))
        app.add_handler(MessageHandler(private & new & filters.CONTACT, self.on_contact))
        app.add_handler(MessageHandler(private & new & filters.TEXT, self.on_text))
        app.add_handler(MessageHandler(private & new & ~filters.TEXT & ~filters.CONTACT, self.on_not_text))
        app.add_handler(CallbackQueryHandler(self.on_callback))
        app.add_error_handler(self.on_error)
        return app

    async def start(self) -> None:
        app = self.application
        await app.initialize()
        await app.start()
        allowed = [Update.MESSAGE, Update.CALLBACK_QUERY]
        if self.settings.TELEGRAM_MODE == "polling":
            await app.updater.start_polling(allowed_updates=allowed, poll_interval=0.0)
        elif self.settings.TELEGRAM_WEBHOOK_URL:
            await app.bot.set_webhook(self.settings.TELEGRAM_WEBHOOK_URL,
                                      secret_token=self.settings.TELEGRAM_WEBHOOK_SECRET,
                                      allowed_updates=allowed)
        logger.info("Telegram channel started (%s)", self.settings.TELEGRAM_MODE)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        app = self.application
        if app.updater and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    async def process_webhook(self, data: dict[str, Any]) -> None:
        update = Update.de_json(data, self.application.bot)
        await self.application.update_queue.put(update)

    # --- handlers -------------------------------------------------------------------------

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        lang = context.user_data.get("lang") or ui_lang(user.language_code if user else None)
        await self.converse(update, context, "/greet", lang=lang)

    async def on_lang_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        lang = notice_lang(context.user_data, user.language_code if user else None)
        await update.effective_chat.send_message(say("lang_prompt", lang), reply_markup=language_keyboard())

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        text, reason = check_text(message.text, self.settings.MAX_MESSAGE_CHARS)
        if reason:
            self.metrics.messages.labels("telegram", reason).inc()
            lang = notice_lang(context.user_data, user.language_code)
            await update.effective_chat.send_message(
                say(reason, lang, length=len(message.text or ""), max=self.settings.MAX_MESSAGE_CHARS))
            return
        # Typed text never reaches Rasa as an intent: only our buttons send "/..." payloads.
        text = text.lstrip("/").strip() or text
        await self.converse(update, context, text)

    async def on_not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.metrics.messages.labels("telegram", "not_text").inc()
        user = update.effective_user
        lang = notice_lang(context.user_data, user.language_code)
        await update.effective_chat.send_message(say("not_text", lang))

    async def on_contact(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        contact = update.effective_message.contact
        user = update.effective_user
        if contact.user_id is None or contact.user_id != user.id:
            self.metrics.messages.labels("telegram", "contact_refused").inc()
            await update.effective_chat.send_message(
                say("contact_refused", notice_lang(context.user_data, user.language_code)))
            return
        phone = normalise_phone(contact.phone_number)
        extra = {"shared_phone": phone}
        if self.settings.CONTACT_SECRET:  # vouch for it: the actions accept no phone without this
            extra["contact_proof"] = contact_proof.sign(self.settings.CONTACT_SECRET, conversation_id(user.id), phone)
        await self.converse(update, context, "/share_contact", extra=extra)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        user = update.effective_user
        data = query.data or ""
        if data.startswith(LANG_PREFIX):
            code = data[len(LANG_PREFIX):]
            if code not in LANGS:
                await query.answer()
                return
            context.user_data["lang"] = code
            await query.answer()
            with contextlib.suppress(TelegramError):
                await query.edit_message_text(say("lang_set", code))
            return
        payload = self.keys.payload_for(data)
        if payload is None:
            await query.answer(say("button_expired", notice_lang(context.user_data, user.language_code)))
            return
        await query.answer()
        await self._mark_choice(query.message, data)
        await self.converse(update, context, payload)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        logger.error("Telegram handler failed: %s", type(error).__name__)  # no update content

    # --- the conversation -----------------------------------------------------------------

    async def converse(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, *,
                       lang: Optional[str] = None, extra: Optional[dict[str, Any]] = None) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        verdict = self.limiter.hit(user.id)
        if not verdict.allowed:
            self.metrics.messages.labels("telegram", "too_fast").inc()
            await chat.send_message(say("too_fast", notice_lang(context.user_data, user.language_code),
                                        seconds=verdict.retry_seconds))
            return
        metadata: dict[str, Any] = {"fund": self.settings.FUND, "channel": "telegram"}
        chosen = lang or context.user_data.get("lang")
        if chosen:
            metadata["lang"] = chosen
        metadata.update(extra or {})
        job = Job(user.id, chat.id, text, metadata, context.user_data, user.language_code)
        async with self.locks.hold(user.id):
            queue = self.pending.get(user.id)
            if queue is not None:  # messages kept while Rasa is down: this one after them
                queue.append(job)
                return
            try:
                await self._deliver(job)
            except RasaUnavailable:
                self.pending[user.id] = deque([job])
                self.metrics.messages.labels("telegram", "queued").inc()
                await self.application.bot.send_message(
                    job.chat_id, say("unavailable", notice_lang(job.user_data, job.language_code)))
                task = asyncio.create_task(self._retry(user.id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, job: Job) -> None:
        """Rasa's answer to one job, sent to the chat. Raises RasaUnavailable only when Rasa
        never got the message (so sending it again is safe)."""
        bot = self.application.bot
        with contextlib.suppress(TelegramError):
            await bot.send_chat_action(job.chat_id, ChatAction.TYPING)
        started = time.monotonic()
        try:
            turn = await self.rasa.send(conversation_id(job.user_id), job.text, job.metadata)
        except RasaUnavailable as error:
            self.metrics.rasa_errors.labels("telegram", str(error.delivered).lower()).inc()
            if not error.delivered:
                raise
            lang = notice_lang(job.user_data, job.language_code)
            await bot.send_message(job.chat_id, say("unavailable_gave_up", lang))
            return
        self.metrics.rasa_latency.labels("telegram").observe(time.monotonic() - started)
        self.metrics.messages.labels("telegram", "answered").inc()
        if turn.lang:
            job.user_data["reply_lang"] = turn.lang
        await self.send_turn(job.chat_id, turn, job.user_data, job.language_code)

    async def _retry(self, user_id: int) -> None:
        """Send a user's kept messages again, oldest first, until Rasa answers (or give up
        after `retry_for` seconds and say so)."""
        queue = self.pending[user_id]
        deadline = time.monotonic() + self.retry_for
        attempt = 0
        try:
            while queue:
                await asyncio.sleep(self.retry_delays[min(attempt, len(self.retry_delays) - 1)])
                async with self.locks.hold(user_id):
                    while queue:
                        try:
                            await self._deliver(queue[0])
                        except RasaUnavailable:
                            attempt += 1
                            if time.monotonic() > deadline:
                                job = queue[0]
                                queue.clear()
                                await self.application.bot.send_message(job.chat_id, say(
                                    "unavailable_gave_up", notice_lang(job.user_data, job.language_code)))
                            break
                        queue.popleft()
                        attempt = 0
        finally:
            self.pending.pop(user_id, None)

    async def send_turn(self, chat_id: int, turn: BotTurn, user_data: dict[str, Any],
                        language_code: Optional[str] = None) -> list[Message]:
        bot = self.application.bot
        lang = turn.lang or notice_lang(user_data, language_code)
        remove_contact_keyboard = bool(user_data.pop("contact_keyboard", False))
        contact_markup: Optional[ReplyKeyboardMarkup] = None
        if turn.accept_contact:
            contact_markup = contact_keyboard(lang)
        sent: list[Message] = []
        last = len(turn.messages) - 1
        for index, message in enumerate(turn.messages):
            text = message.text
            if message.kind == "source":
                links = [f"🔗 {s['title']}: {s['url']}" for s in turn.sources if s.get("url")]
                if links:
                    text = "\n".join([text, *links])
            markup: Any = None
            if message.buttons:
                markup = inline_keyboard(message.buttons, self.keys)
            elif contact_markup is not None and index == last:
                markup, contact_markup = contact_markup, None
                user_data["contact_keyboard"] = True
            elif remove_contact_keyboard:
                markup, remove_contact_keyboard = ReplyKeyboardRemove(), False
            chunks = split_text(text)
            for position, chunk in enumerate(chunks):
                sent.append(await bot.send_message(
                    chat_id, chunk, reply_markup=markup if position == len(chunks) - 1 else None,
                    link_preview_options=NO_PREVIEW))
        if contact_markup is not None:
            sent.append(await bot.send_message(chat_id, say("contact_prompt", lang),
                                               reply_markup=contact_markup))
            user_data["contact_keyboard"] = True
        return sent

    async def _mark_choice(self, message: Any, data: str) -> None:
        """Replace the pressed keyboard by the choice made (no second press)."""
        if not isinstance(message, Message):
            return
        title = None
        if message.reply_markup:
            for row in message.reply_markup.inline_keyboard:
                for button in row:
                    if button.callback_data == data:
                        title = button.text
        with contextlib.suppress(TelegramError):
            if message.text and title and len(message.text) + len(title) + 4 < TELEGRAM_LIMIT:
                await message.edit_text(f"{message.text}\n\n✔ {title}", link_preview_options=NO_PREVIEW)
            else:
                await message.edit_reply_markup(None)
