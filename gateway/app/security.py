"""Who may talk to the gateway from a browser: the Content-Security-Policy and other headers of
every response, the WebSocket Origin check (CORS does not apply to WebSockets), and the
client address used by the rate limits."""
from __future__ import annotations

from typing import Iterable, Optional

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(allowed_origins: Iterable[str]) -> str:
    """The gateway's own pages (demo page) load only their own assets, talk only to the gateway,
    and may be framed only by the configured fund sites."""
    ancestors = " ".join(["'self'", *allowed_origins])
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])


class SecurityHeadersMiddleware:
    """Adds the CSP and companion headers to every HTTP response (pure ASGI: WebSockets pass)."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(allowed_origins).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in self.headers if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def own_origin(conn: HTTPConnection) -> str:
    scheme = conn.url.scheme.replace("ws", "http")
    return f"{scheme}://{conn.headers.get('host', '')}".rstrip("/")


def origin_allowed(conn: HTTPConnection, allowed_origins: Iterable[str]) -> bool:
    """A browser always sends Origin on a WebSocket handshake: it must be the gateway itself or a
    configured fund site. Non-browser clients (no Origin) are let through: they could forge any
    Origin anyway, the rate limits apply to them."""
    origin: Optional[str] = conn.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    return origin == own_origin(conn) or origin in set(allowed_origins)


def client_ip(conn: HTTPConnection) -> str:
    """The address the rate limits key on. Behind the configured reverse proxies
    (TRUSTED_PROXIES), `create_app` puts uvicorn's ProxyHeadersMiddleware in front: when the
    peer is one of them, it reads X-Forwarded-For right to left and makes the first entry that
    is not a trusted proxy the client, for HTTP and WebSocket alike (and the scheme from
    X-Forwarded-Proto, so the Origin check sees https behind TLS). The left-most entries are
    whatever the client wrote: never believed. From any other peer the header is ignored."""
    return conn.client.host if conn.client else "unknown"
