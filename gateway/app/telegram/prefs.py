"""A Telegram user's language choice (`lang`, set with /langue) and the language of their last
reply (`reply_lang`), beside python-telegram-bot's `context.user_data`, which holds them in this
process. `LocalPrefs`: nothing more (one gateway process); the Redis store
(gateway/app/state/redis_state.py `RedisTelegramPrefs`) makes them known to every process."""
from __future__ import annotations

from typing import Protocol

FIELDS = ("lang", "reply_lang")


class TelegramPrefs(Protocol):
    async def load(self, user_id: int) -> dict[str, str]:
        """The user's saved fields (some of FIELDS)."""

    async def save(self, user_id: int, **fields: str) -> None: ...


class LocalPrefs:
    """PTB's user_data is the store: nothing to load, nothing to save elsewhere."""

    async def load(self, user_id: int) -> dict[str, str]:
        return {}

    async def save(self, user_id: int, **fields: str) -> None:
        pass
