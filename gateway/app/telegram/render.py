"""What the Telegram user sees: the assistant's turn as messages (answers split under Telegram's
limit, the source line with its links, Rasa's buttons as inline keyboards, the "share my phone
number" keyboard when the balance form accepts a contact), a pressed keyboard replaced by the
choice made, and a person's messages during a live handoff."""
from __future__ import annotations

import contextlib
from typing import Any, Optional

from telegram import Bot, LinkPreviewOptions, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove
from telegram.error import TelegramError

from gateway.app.messages import say, ui_lang
from gateway.app.rasa_client import BotTurn
from gateway.app.telegram.keyboards import CallbackKeys, contact_keyboard, inline_keyboard
from gateway.app.telegram.text import TELEGRAM_LIMIT, split_text

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def notice_lang(user_data: dict[str, Any], language_code: Optional[str]) -> str:
    """The language of the gateway's own sentences for this user: their choice, else the
    language of the last reply, else Telegram's language_code."""
    return ui_lang(user_data.get("lang") or user_data.get("reply_lang") or language_code)


def _message_groups(turn: BotTurn) -> list[tuple[str, list[Any]]]:
    """The turn's texts as Telegram messages: consecutive texts go together, up to and including
    the next one with buttons (which the keyboard then sits under). Rasa's REST channel cuts an
    answer at every blank line and the source comes as one more text, so sending each piece would
    make a three-paragraph answer four notifications on the citizen's phone and four Bot API calls
    for the gateway; `send_text` still cuts a group that is over Telegram's limit, at a blank line
    where it can."""
    groups: list[tuple[str, list[Any]]] = []
    pieces: list[str] = []
    for message in turn.messages:
        text = message.text
        if message.kind == "source":
            links = [f"🔗 {s['title']}: {s['url']}" for s in turn.sources if s.get("url")]
            text = "\n".join([text, *links])
        pieces.append(text)
        if message.buttons:
            groups.append(("\n\n".join(pieces), message.buttons))
            pieces = []
    if pieces:
        groups.append(("\n\n".join(pieces), []))
    return groups


class Renderer:
    def __init__(self, bot: Bot, keys: CallbackKeys) -> None:
        self.bot, self.keys = bot, keys

    async def send_turn(self, chat_id: int, turn: BotTurn, user_data: dict[str, Any],
                        language_code: Optional[str] = None) -> list[Message]:
        lang = turn.lang or notice_lang(user_data, language_code)
        remove_contact_keyboard = bool(user_data.pop("contact_keyboard", False))
        contact_markup: Optional[ReplyKeyboardMarkup] = None
        if turn.accept_contact:
            contact_markup = contact_keyboard(lang)
        sent: list[Message] = []
        groups = _message_groups(turn)
        for index, (text, buttons) in enumerate(groups):
            markup: Any = None
            if buttons:
                markup = inline_keyboard(buttons, self.keys)
            elif contact_markup is not None and index == len(groups) - 1:
                markup, contact_markup = contact_markup, None
                user_data["contact_keyboard"] = True
            elif remove_contact_keyboard:
                markup, remove_contact_keyboard = ReplyKeyboardRemove(), False
            sent.extend(await self.send_text(chat_id, text, markup))
        if contact_markup is not None:
            sent.append(await self.bot.send_message(chat_id, say("contact_prompt", lang),
                                                    reply_markup=contact_markup))
            user_data["contact_keyboard"] = True
        return sent

    async def send_text(self, chat_id: int, text: str, markup: Any = None) -> list[Message]:
        """One text, in as many messages as Telegram's limit needs; the markup on the last."""
        chunks = split_text(text)
        return [await self.bot.send_message(chat_id, chunk, reply_markup=markup if position == len(chunks) - 1 else None,
                                            link_preview_options=NO_PREVIEW)
                for position, chunk in enumerate(chunks)]

    async def send_handoff_event(self, chat_id: int, event: dict[str, Any]) -> list[Message]:
        """A person's message, under a label saying a person wrote it, or a handoff notice."""
        if event.get("type") == "agent":
            return await self.send_text(chat_id, f"{say('agent_label', event.get('lang'))}\n{event['text']}")
        return await self.send_text(chat_id, event["text"])

    async def mark_choice(self, message: Any, data: str) -> None:
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
