"""The affiliate API's agent route (backend/: POST /v1/agent/balance-lookups), as the console
calls it with its own credential."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import httpx

logger = logging.getLogger("sanad.gateway.agent.backend")


@dataclass
class LookupResult:
    outcome: str  # "shown", "not_found", "refused_by_backend", "backend_unavailable"
    balance: Optional[dict[str, Any]] = None


class BackendClient:
    def __init__(self, base_url: str, token: Optional[str], timeout: float = 10.0,
                 transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self.token = token
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport, trust_env=False,
                                         timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)))

    @property
    def configured(self) -> bool:
        return bool(self.token)

    async def balance_lookup(self, *, fund: str, affiliate_number: str, agent_id: str,
                             identity_check: str, reason: str) -> LookupResult:
        body = {"fund": fund, "affiliate_number": affiliate_number, "agent_id": agent_id,
                "identity_check": identity_check, "reason": reason}
        try:
            response = await self._client.post("/v1/agent/balance-lookups", json=body,
                                               headers={"Authorization": f"Bearer {self.token}"})
        except httpx.HTTPError as error:  # the message may hold the URL only; log its type anyway
            logger.warning("affiliate API unreachable (%s)", type(error).__name__)
            return LookupResult("backend_unavailable")
        if response.status_code == 200:
            return LookupResult("shown", response.json())
        if response.status_code == 404:
            return LookupResult("not_found")
        logger.warning("affiliate API refused the look-up (HTTP %s)", response.status_code)
        return LookupResult("backend_unavailable" if response.status_code >= 500 else "refused_by_backend")

    async def aclose(self) -> None:
        await self._client.aclose()
