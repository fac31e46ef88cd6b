"""Abuse limits: a sliding-window rate limiter and the check of an incoming text (empty, too
long, binary). `RateLimiter` keeps its counters in this process; behind several gateway
processes, SANAD_GATEWAY_REDIS_URL puts them in Redis (gateway/app/state/redis_limits.py), with
the same `Limiter` interface and the same semantics."""
from __future__ import annotations

import math
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from typing import Callable, Hashable, Optional, Protocol


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds until the next event would be allowed

    @property
    def retry_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))


class Limiter(Protocol):
    """At most `limit` events per `window` seconds per key; `hit` counts an event if allowed.
    Asynchronous: a shared limiter asks Redis."""
    limit: int
    window: float

    async def hit(self, key: Hashable) -> Verdict: ...


class RateLimiter:
    """At most `limit` events per `window` seconds per key (sliding window). Rejected events do
    not count, so a citizen who waits gets through."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._events: dict[Hashable, deque[float]] = {}
        self._last_sweep = clock()

    async def hit(self, key: Hashable) -> Verdict:
        now = self.clock()
        self._sweep(now)
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return Verdict(False, events[0] + self.window - now)
        events.append(now)
        return Verdict(True)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window and len(self._events) < self.max_keys:
            return
        self._last_sweep = now
        for key in [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]:
            del self._events[key]
        while len(self._events) >= self.max_keys:  # still full: forget the oldest keys
            self._events.pop(next(iter(self._events)))

    def __len__(self) -> int:
        return len(self._events)


def check_text(text: object, max_chars: int) -> tuple[Optional[str], Optional[str]]:
    """(clean text, None) or (None, reason) with reason one of "not_text", "empty", "too_long"."""
    if not isinstance(text, str):
        return None, "not_text"
    if len(text) > 4 * max_chars and len(text.strip()) > max_chars:  # huge: do not scan it
        return None, "too_long"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: not text a person typed
        return None, "not_text"
    if "\ufffd" in text or any(unicodedata.category(c) in ("Cc", "Cs", "Co") and c not in "\t\n\r"
                               for c in text):
        return None, "not_text"
    text = text.strip()
    if not text:
        return None, "empty"
    if len(text) > max_chars:
        return None, "too_long"
    return text, None
