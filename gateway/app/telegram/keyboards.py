"""Telegram keyboards: Rasa's buttons as inline keyboards, the language choice, and the
"share my phone number" reply keyboard of the balance flow."""
from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Iterable, Optional

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from gateway.app.messages import LANG_NAMES, LANGS, say
from gateway.app.payloads import issued_by_assistant
from gateway.app.rasa_client import Button

CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts
KEY_PREFIX = "k:"
LANG_PREFIX = "lang:"


class CallbackKeys:
    """Payloads longer than Telegram's 64 bytes travel as a short key mapped here (in memory,
    the most recent `capacity` ones; a button older than that answers "no longer available")."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def data_for(self, payload: str) -> str:
        fits = len(payload.encode("utf-8")) <= CALLBACK_LIMIT
        if fits and not payload.startswith((KEY_PREFIX, LANG_PREFIX)):
            return payload
        key = KEY_PREFIX + secrets.token_urlsafe(12)
        self._payloads[key] = payload
        while len(self._payloads) > self.capacity:
            self._payloads.popitem(last=False)
        return key

    def payload_for(self, data: str) -> Optional[str]:
        if data.startswith(KEY_PREFIX):
            return self._payloads.get(data)
        # Callback data is written by the client: a crafted "/restart" is no button of ours.
        return data if issued_by_assistant(data) else None


def inline_keyboard(buttons: Iterable[Button], keys: CallbackKeys) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.title[:200] or b.payload[:64],
                                                       callback_data=keys.data_for(b.payload))]
                                 for b in buttons])


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(LANG_NAMES[code], callback_data=LANG_PREFIX + code)
                                  for code in LANGS]])


def contact_keyboard(lang: Optional[str]) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup([[KeyboardButton(say("contact_button", lang), request_contact=True)]],
                               resize_keyboard=True, one_time_keyboard=True)
