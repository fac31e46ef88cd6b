"""Credentials and secrets: the service credential, one-time codes, tokens and keyed hashes.

Codes, tokens, conversation ids and lock keys are stored only as HMAC-SHA256 under SECRET_KEY."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.app.api.errors import error_response, http_error

AUTHENTICATED_SCOPE_KEY = "sanad.authenticated_area"  # the prefix whose credential was checked
SERVICE_AREA, AGENT_AREA = "/v1", "/v1/agent"
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="ServiceCredential",
    description="The service credential shared with the bot (SANAD_BACKEND_SERVICE_TOKENS).",
)
agent_bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="AgentCredential",
    description="The agent console's credential (SANAD_BACKEND_AGENT_TOKENS), distinct from the bot's.",
)


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value`, separated by `purpose` so that one hash never stands for another."""
    message = f"{purpose}\x1f{value}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_verification_id() -> str:
    return secrets.token_urlsafe(16)


def credential_is_valid(presented: str | None, accepted: Iterable[str]) -> bool:
    """Constant-time check against every accepted credential (digests, so lengths do not leak)."""
    digest = hashlib.sha256((presented or "").encode()).digest()
    valid = False
    for token in accepted:
        valid |= hmac.compare_digest(digest, hashlib.sha256(token.encode()).digest())
    return valid and bool(presented)


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class ServiceCredentialMiddleware:
    """Refuses any request under a credential area without a valid credential of that area,
    before routing, body parsing or validation: an unauthenticated caller learns nothing else.
    `areas` maps path prefixes to their accepted credentials; the longest matching prefix
    decides, so the bot's credential opens `/v1` but not `/v1/agent`, and the console's only
    `/v1/agent`."""

    def __init__(self, app: ASGIApp, areas: Mapping[str, tuple[str, ...]]) -> None:
        self.app = app
        self.areas = sorted(areas.items(), key=lambda area: len(area[0]), reverse=True)

    def _area(self, path: str) -> tuple[str, tuple[str, ...]] | None:
        return next(((prefix, tokens) for prefix, tokens in self.areas
                     if path == prefix or path.startswith(prefix + "/")), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        area = self._area(scope.get("path", "")) if scope["type"] == "http" else None
        if area is not None:
            headers = {k.lower(): v for k, v in scope.get("headers", [])}
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            if not credential_is_valid(bearer_token(authorization), area[1]):
                response = error_response(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
            scope[AUTHENTICATED_SCOPE_KEY] = area[0]
        await self.app(scope, receive, send)


def _require(request: Request, area: str, presented: str | None, accepted: tuple[str, ...]) -> None:
    if request.scope.get(AUTHENTICATED_SCOPE_KEY) == area:
        return
    if not credential_is_valid(presented, accepted):
        raise http_error(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})


def require_service_credential(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
) -> None:
    """Route dependency: declares the scheme in the OpenAPI document, and checks the credential
    itself when the router is served without ServiceCredentialMiddleware in front."""
    _require(request, SERVICE_AREA, credentials.credentials if credentials else None,
             request.app.state.settings.service_tokens)


def require_agent_credential(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(agent_bearer_scheme),
) -> None:
    """The same for the agent console's routes (`/v1/agent`)."""
    _require(request, AGENT_AREA, credentials.credentials if credentials else None,
             request.app.state.settings.agent_tokens)
