"""Client of the fund's affiliate API (backend/openapi.json). Every call carries the service
credential and a timeout; every failure becomes a typed outcome, never an exception that would
leave the citizen without an answer. No personal data is logged."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import aiohttp

DEV_SERVICE_TOKEN = "sanad-dev-service-token"  # the backend's development default (backend/README.md)


@dataclass
class Outcome:
    kind: str  # ok | mismatch | invalid_code | expired | locked | token_expired | not_found | unavailable
    data: Dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def conversation_key(sender_id: str) -> str:
    """The conversation id sent to the backend: opaque, stable per conversation."""
    return hashlib.sha256(f"sanad:{sender_id}".encode()).hexdigest()[:32]


class AffiliateApi:
    def __init__(self, base_url: str, token: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    @classmethod
    def from_env(cls) -> "AffiliateApi":
        return cls(os.environ.get("SANAD_BACKEND_URL", "http://127.0.0.1:8100"),
                   os.environ.get("SANAD_BACKEND_TOKEN", DEV_SERVICE_TOKEN),
                   float(os.environ.get("SANAD_BACKEND_TIMEOUT", "5")))

    async def _call(self, method: str, path: str, json: Optional[dict] = None,
                    headers: Optional[dict] = None) -> Outcome:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.request(method, f"{self.base_url}{path}", json=json,
                                           headers={**self.headers, **(headers or {})}) as response:
                    body = await response.json(content_type=None) if response.content_length != 0 else {}
                    return self._outcome(response.status, body or {})
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return Outcome("unavailable")

    @staticmethod
    def _outcome(status: int, body: Dict[str, Any]) -> Outcome:
        if status in (200, 201):
            return Outcome("ok", body)
        detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
        code = detail.get("code")
        if status == 403:
            return Outcome("mismatch" if code == "identity_not_verified" else "invalid_code", detail)
        if status == 410:
            return Outcome("expired", detail)
        if status in (423, 429):  # locked, or too many codes sent lately: both say "retry after"
            return Outcome("locked", detail)
        if status == 401 and code in ("token_expired", "invalid_token"):
            return Outcome("token_expired", detail)
        if status == 404:
            return Outcome("not_found", detail)
        return Outcome("unavailable", {"status": status})  # 5xx, 401 on our credential, anything else

    async def start_verification(self, fund: str, number: str, birth_date: dt.date, conversation: str) -> Outcome:
        return await self._call("POST", "/v1/verifications", {
            "fund": fund, "affiliate_number": number, "birth_date": birth_date.isoformat(),
            "conversation_id": conversation})

    async def confirm_code(self, verification_id: str, code: str) -> Outcome:
        return await self._call("POST", f"/v1/verifications/{verification_id}/confirm", {"code": code})

    async def confirm_phone(self, verification_id: str, phone: str) -> Outcome:
        return await self._call("POST", f"/v1/verifications/{verification_id}/confirm-phone", {"phone": phone})

    async def balance(self, token: str) -> Outcome:
        return await self._call("GET", "/v1/balance", headers={"X-Verification-Token": token})
