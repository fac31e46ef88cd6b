"""Credentials and secrets: the service credential, one-time codes, tokens and keyed hashes.

Codes, tokens, conversation ids and lock keys are stored only as HMAC-SHA256 under SECRET_KEY."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.app.api.errors import error_response, http_error

AUTHENTICATED_SCOPE_KEY = "sanad.service_authenticated"
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="ServiceCredential",
    description="The service credential shared with the bot (SANAD_BACKEND_SERVICE_TOKENS).",
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
    """Refuses any request under `prefix` without a valid service credential, before routing,
    body parsing or validation: an unauthenticated caller learns nothing else."""

    def __init__(self, app: ASGIApp, tokens: tuple[str, ...], prefix: str = "/v1") -> None:
        self.app, self.tokens, self.prefix = app, tokens, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            headers = {k.lower(): v for k, v in scope.get("headers", [])}
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            if not credential_is_valid(bearer_token(authorization), self.tokens):
                response = error_response(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
            scope[AUTHENTICATED_SCOPE_KEY] = True
        await self.app(scope, receive, send)


def require_service_credential(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
) -> None:
    """Route dependency: declares the scheme in the OpenAPI document, and checks the credential
    itself when the router is served without ServiceCredentialMiddleware in front."""
    if request.scope.get(AUTHENTICATED_SCOPE_KEY):
        return
    presented = credentials.credentials if credentials else None
    if not credential_is_valid(presented, request.app.state.settings.service_tokens):
        raise http_error(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})

