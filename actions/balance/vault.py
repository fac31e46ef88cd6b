"""Short-lived server-side storage for the secrets the balance form must hold between two
turns (the affiliate number until the birth date arrives, the verification token until the
balance is fetched). Slots hold only the opaque reference `ref:<random>`, so the tracker store
never sees the secret. In-process by default; Redis (SANAD_REDIS_URL) when the action server
runs as several replicas."""
from __future__ import annotations

import os
import secrets
import threading
import time
from typing import Dict, Optional, Protocol, Tuple

TTL_SECONDS = 900  # a verification conversation that pauses longer starts again


class Vault(Protocol):
    def put(self, value: str, ttl: int = TTL_SECONDS) -> str: ...
    def get(self, ref: Optional[str]) -> Optional[str]: ...
    def pop(self, ref: Optional[str]) -> Optional[str]: ...


def new_ref() -> str:
    return "ref:" + secrets.token_urlsafe(18)


class MemoryVault:
    def __init__(self) -> None:
        self._items: Dict[str, Tuple[float, str]] = {}
        self._lock = threading.Lock()

    def put(self, value: str, ttl: int = TTL_SECONDS) -> str:
        ref = new_ref()
        with self._lock:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[0] > now}  # drop expired
            self._items[ref] = (now + ttl, value)
        return ref

    def get(self, ref: Optional[str]) -> Optional[str]:
        with self._lock:
            item = self._items.get(ref or "")
        return item[1] if item and item[0] > time.monotonic() else None

    def pop(self, ref: Optional[str]) -> Optional[str]:
        value = self.get(ref)
        with self._lock:
            self._items.pop(ref or "", None)
        return value


class RedisVault:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def put(self, value: str, ttl: int = TTL_SECONDS) -> str:
        ref = new_ref()
        self._redis.set(f"sanad:vault:{ref}", value.encode(), ex=ttl)
        return ref

    def get(self, ref: Optional[str]) -> Optional[str]:
        raw = self._redis.get(f"sanad:vault:{ref}") if ref else None
        return raw.decode() if raw else None

    def pop(self, ref: Optional[str]) -> Optional[str]:
        raw = self._redis.getdel(f"sanad:vault:{ref}") if ref else None
        return raw.decode() if raw else None


_vault: Optional[Vault] = None


def vault() -> Vault:
    global _vault
    if _vault is None:
        url = os.environ.get("SANAD_REDIS_URL")
        _vault = RedisVault(url) if url else MemoryVault()
    return _vault
