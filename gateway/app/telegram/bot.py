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
  back; the citizen is told so (queue.py).
Here: the set-up (the python-telegram-bot Application, polling or webhook) and the handlers, which
turn an update into the relay's `Inbound` (gateway/app/relay.py: text check, limits, the call to
Rasa, metrics); queue.py keeps each user's messages in order and through outages; render.py
draws the replies. Nothing here logs a message text, a phone number or a contact."""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Optional

from telegram import Update
from telegram.constants import ChatAction
from telegram.error import Forbidden, NetworkError, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from actions.balance import contact_proof
from gateway.app.config import Settings
from gateway.app.messages import LANGS, say, ui_lang
from gateway.app.relay import ANSWERED, GAVE_UP, RETRY, Inbound, Relay
from gateway.app.telegram.aiohttp_request import AiohttpRequest
from gateway.app.telegram.keyboards import LANG_PREFIX, CallbackKeys, language_keyboard
from gateway.app.telegram.prefs import LocalPrefs, TelegramPrefs
from gateway.app.telegram.queue import Job, RetryQueue
from gateway.app.telegram.render import Renderer, notice_lang

logger = logging.getLogger("sanad.gateway.telegram")

LANG_COMMANDS = ("langue", "lang", "language")
ARABIC_LANG_COMMAND = r"^/لغة(?:@\w+)?\s*$"
CHANNEL = "telegram"


def conversation_id(user_id: int) -> str:
    """Rasa's conversation id for a Telegram user."""
    return f"tg:{user_id}"


def normalise_phone(phone: str) -> str:
    """Telegram sends the number with or without "+": the international form, always with it."""
    digits = "".join(c for c in phone if c.isdigit())
    return f"+{digits}" if digits else phone.strip()


class TelegramChannel:
    def __init__(self, settings: Settings, relay: Relay,
                 retry_delays: tuple[float, ...] = (2, 4, 8, 15, 30, 60), retry_for: float = 600.0,
                 prefs: Optional[TelegramPrefs] = None) -> None:
        self.settings, self.relay = settings, relay
        self.prefs: TelegramPrefs = prefs or LocalPrefs()  # the language choice, for every process
        self.keys = CallbackKeys()
        self.queue = RetryQueue(self._deliver, kept=self._tell_kept, give_up=self._tell_gave_up,
                                retry_delays=retry_delays, retry_for=retry_for)
        self.application = self._build()
        self.render = Renderer(self.application.bot, self.keys)

    # The retry queue's state, as the channel's own (tests shorten the delays).
    @property
    def pending(self) -> dict:
        return self.queue.pending

    @property
    def retry_delays(self) -> tuple[float, ...]:
        return self.queue.retry_delays

    @retry_delays.setter
    def retry_delays(self, delays: tuple[float, ...]) -> None:
        self.queue.retry_delays = delays

    # --- set-up ---------------------------------------------------------------------------

    def _build(self) -> Application:
        api = self.settings.TELEGRAM_API_BASE_URL.rstrip("/")
        builder = (Application.builder().token(self.settings.TELEGRAM_BOT_TOKEN)
                   .base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
                   .concurrent_updates(True)  # users in parallel; each user's messages in order (locks)
                   # aiohttp, not PTB's httpx: 0.4-0.6 instead of 1.0-1.8 ms of CPU per Bot API call
                   # (aiohttp_request.py); PTB's defaults kept: 256 connections for the calls, 1 for
                   # getUpdates, read / write / connect 5 s, pool 1 s.
                   .request(AiohttpRequest(connection_pool_size=256)))
        if self.settings.TELEGRAM_MODE == "webhook":
            builder = builder.updater(None)
        else:
            builder = builder.get_updates_request(AiohttpRequest(connection_pool_size=1))
        app = builder.build()
        app.add_handler(TypeHandler(Update, self.load_prefs), group=-1)  # before any other handler
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
        self.queue.cancel()
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

    async def load_prefs(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The user's language choice as saved (another gateway process may have taken it)."""
        user = update.effective_user
        if user is not None and context.user_data is not None:
            context.user_data.update(await self.prefs.load(user.id))

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        lang = context.user_data.get("lang") or ui_lang(user.language_code if user else None)
        await self.converse(update, context, "/greet", lang=lang)

    async def on_lang_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        lang = notice_lang(context.user_data, user.language_code if user else None)
        await update.effective_chat.send_message(say("lang_prompt", lang), reply_markup=language_keyboard())

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Typed text never reaches Rasa as an intent: only our buttons send "/..." payloads.
        await self.converse(update, context, update.effective_message.text, button=False)

    async def on_not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.relay.count(CHANNEL, "not_text")
        user = update.effective_user
        lang = notice_lang(context.user_data, user.language_code)
        await update.effective_chat.send_message(say("not_text", lang))

    async def on_contact(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        contact = update.effective_message.contact
        user = update.effective_user
        if contact.user_id is None or contact.user_id != user.id:
            self.relay.count(CHANNEL, "contact_refused")
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
            await self.prefs.save(user.id, lang=code)
            await query.answer()
            with contextlib.suppress(TelegramError):
                await query.edit_message_text(say("lang_set", code))
            return
        payload = self.keys.payload_for(data)
        if payload is None:
            await query.answer(say("button_expired", notice_lang(context.user_data, user.language_code)))
            return
        await query.answer()
        await self.render.mark_choice(query.message, data)
        await self.converse(update, context, payload)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if isinstance(error, (NetworkError, Forbidden)):  # Telegram unreachable, or the citizen blocked the bot
            logger.warning("Telegram call failed: %s", type(error).__name__)  # operations, not a bug
            return
        logger.error("Telegram handler failed: %s", type(error).__name__)  # no update content

    # --- the conversation -----------------------------------------------------------------

    async def converse(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, *,
                       button: bool = True, lang: Optional[str] = None,
                       extra: Optional[dict[str, Any]] = None) -> None:
        """Hand one message to the relay: `text` typed by the user (button=False) or a payload
        of ours (a button, /greet, /share_contact)."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        inbound = Inbound(CHANNEL, conversation_id(user.id), self.settings.FUND, text, button=button,
                          lang=lang or context.user_data.get("lang"), extra=dict(extra or {}),
                          rate_keys=(("telegram_user", user.id),),
                          notice_lang=notice_lang(context.user_data, user.language_code))
        message, refusal = await self.relay.admit(inbound)
        if refusal:
            await chat.send_message(refusal.text)
            return
        await self.queue.submit(Job(user.id, chat.id, inbound, message, context.user_data, user.language_code))

    async def _deliver(self, job: Job) -> bool:
        """The relay's answer to one job, sent to the chat. False only when Rasa never got the
        message (so sending it again is safe)."""
        outcome = await self.relay.answer(job.inbound, job.message, typing=lambda: self._typing(job.chat_id))
        if outcome.kind == RETRY:
            return False
        if outcome.kind == GAVE_UP:
            await self.application.bot.send_message(job.chat_id, outcome.text)
        elif outcome.kind == ANSWERED:
            if outcome.turn.lang and outcome.turn.lang != job.user_data.get("reply_lang"):
                job.user_data["reply_lang"] = outcome.turn.lang
                await self.prefs.save(job.user_id, reply_lang=outcome.turn.lang)
            await self.render.send_turn(job.chat_id, outcome.turn, job.user_data, job.language_code)
        return True  # HELD: a person holds the conversation, the text is on their screen

    async def _typing(self, chat_id: int) -> None:
        with contextlib.suppress(TelegramError):
            await self.application.bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def _tell_kept(self, job: Job) -> None:
        await self.application.bot.send_message(
            job.chat_id, say("unavailable", notice_lang(job.user_data, job.language_code)))

    async def _tell_gave_up(self, job: Job) -> None:
        await self.application.bot.send_message(
            job.chat_id, say("unavailable_gave_up", notice_lang(job.user_data, job.language_code)))

    async def send_turn(self, chat_id: int, turn, user_data: dict[str, Any], language_code: Optional[str] = None):
        return await self.render.send_turn(chat_id, turn, user_data, language_code)

    # --- live handoff -----------------------------------------------------------------------

    async def deliver(self, conversation_id: str, fund: str, event: dict[str, Any]) -> bool:
        """A person's message or a handoff notice (the relay's `channels["telegram"]`): the
        conversation `tg:<user id>` is the user's private chat with the bot."""
        chat_id = int(conversation_id.removeprefix("tg:"))
        try:
            await self.render.send_handoff_event(chat_id, event)
        except TelegramError as error:
            logger.warning("handoff event not delivered on Telegram: %s", type(error).__name__)
            return False
        return True
