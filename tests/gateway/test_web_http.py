"""HTTP side of the web chat: session issuing and token tampering, CORS and the
Content-Security-Policy (only the configured fund sites), the widget's assets, the demo page,
health and metrics; the client address behind reverse proxies (TRUSTED_PROXIES)."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any, Iterator, Optional
from unittest import mock

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import ValidationError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bot.tooling.services import free_port
from tests.gateway.conftest import REPO
from gateway.__main__ import server_config
from gateway.app.config import Settings
from gateway.app.main import create_app
from gateway.app.web.sessions import SessionTokens
from tests.gateway.conftest import TEST_SECRET, make_settings
from tests.gateway.stubs import ScriptedRasa

FUND_SITE = "https://www.cnss.ma"


@pytest.fixture
def client():
    settings = make_settings(ALLOWED_ORIGINS=f"{FUND_SITE}, https://www.casnos.dz/")
    app = create_app(settings, rasa=ScriptedRasa())
    with TestClient(app) as client:
        yield client


def test_new_session_then_renewal_keeps_the_session(client):
    first = client.post("/api/session", json={"fund": "casnos_dz"}).json()
    assert first["new"] is True and first["fund"] == "casnos_dz" and len(first["session_id"]) >= 16
    again = client.post("/api/session", json={"token": first["token"]}).json()
    assert again["session_id"] == first["session_id"]
    assert again["new"] is False and again["fund"] == "casnos_dz"
    other = client.post("/api/session", json={}).json()
    assert other["session_id"] != first["session_id"] and other["fund"] == "cnss_ma"  # deployment default
    assert client.post("/api/session", json={"fund": "nope"}).json()["fund"] == "cnss_ma"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def test_tampered_foreign_or_expired_tokens_are_rejected(client):
    token = client.post("/api/session", json={}).json()["token"]
    payload, stamp, signature = token.split(".")
    forged = [
        f"{_b64({'sid': 'B' * 22, 'fund': 'cnss_ma'})}.{stamp}.{signature}",  # someone else's session
        f"{_b64({'sid': 'B' * 22, 'fund': 'casnos_dz'})}.{stamp}.{signature}",
        f"{payload}.{stamp}.{signature[::-1]}",
        f"{payload}.{stamp}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}",
        f"{payload}.{stamp}",
        "x" * 600,
        SessionTokens("another-secret", 3600).issue("cnss_ma")[1],  # signed with another key
    ]
    for bad in forged:
        response = client.post("/api/session", json={"token": bad, "lang": "ar"})
        assert response.status_code in (401, 422), bad
        if response.status_code == 401:
            assert response.json()["code"] == "bad_session"
            assert response.json()["text"].startswith("انتهت")


def test_token_verification_rules():
    tokens = SessionTokens(TEST_SECRET, max_age=3600)
    claims, token = tokens.issue("cnss_ma")
    assert tokens.verify(token) == claims
    assert tokens.verify(None) is None and tokens.verify(123) is None and tokens.verify("") is None
    with mock.patch("time.time", return_value=1_000_000.0):  # issued long ago
        old = tokens.issue("cnss_ma")[1]
    assert tokens.verify(old) is None
    # a token naming an unknown fund, or a malformed session id, is refused even when signed
    assert tokens.verify(tokens._serializer.dumps({"sid": "A" * 22, "fund": "xx"})) is None
    assert tokens.verify(tokens._serializer.dumps({"sid": "short", "fund": "cnss_ma"})) is None
    assert tokens.verify(tokens._serializer.dumps(["not", "a", "dict"])) is None


def test_session_issuing_is_rate_limited_per_ip():
    app = create_app(make_settings(RATE_IP_SESSIONS=3), rasa=ScriptedRasa())
    with TestClient(app) as client:
        codes = [client.post("/api/session", json={}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.post("/api/session", json={"lang": "en"})
        assert refused.json()["code"] == "too_fast" and refused.json()["text"].startswith("You are sending")
        assert int(refused.headers["retry-after"]) > 0


def test_cors_allows_only_the_configured_fund_sites(client):
    for origin in (FUND_SITE, "https://www.casnos.dz"):
        preflight = client.options("/api/session", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        post = client.post("/api/session", json={}, headers={"Origin": origin})
        assert post.status_code == 200 and post.headers["access-control-allow-origin"] == origin
    preflight = client.options("/api/session", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    post = client.post("/api/session", json={}, headers={"Origin": "https://evil.example"})
    assert post.status_code == 403 and "access-control-allow-origin" not in post.headers


def test_csp_and_security_headers_on_every_response(client):
    for path in ("/", "/widget.js", "/health", "/api/nope"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["frame-ancestors"] == f"'self' {FUND_SITE} https://www.casnos.dz"
        assert directives["connect-src"] == "'self'"
        assert directives["script-src"] == "'self'" and "unsafe-inline" not in csp
        assert directives["object-src"] == "'none'"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_without_allowed_origins_only_the_gateway_may_frame_its_pages():
    app = create_app(make_settings(), rasa=ScriptedRasa())
    with TestClient(app) as client:
        assert "frame-ancestors 'self'" in client.get("/").headers["content-security-policy"]
        assert client.options("/api/session", headers={
            "Origin": FUND_SITE, "Access-Control-Request-Method": "POST"}).status_code == 400


def test_widget_assets_and_demo_page(client):
    js = client.get("/widget.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["cross-origin-resource-policy"] == "cross-origin"
    assert client.get("/static/widget.js").text == js.text
    css = client.get("/widget.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    page = client.get("/")
    assert page.status_code == 200
    assert '<script src="/widget.js" data-fund="cnss_ma" defer></script>' in page.text
    assert "<script>" not in page.text and "style=" not in page.text  # nothing the CSP would block
    assert 'data-fund="casnos_dz"' in client.get("/?fund=casnos_dz").text
    assert 'data-fund="cnss_ma"' in client.get("/?fund=<script>").text


def test_widget_uses_no_external_resource(client):
    js = client.get("/widget.js").text
    for marker in ("cdn.", "googleapis", "unpkg", "jsdelivr", "import(", "eval(", "innerHTML"):
        assert marker not in js


def test_health_ready_and_metrics():
    rasa = ScriptedRasa()
    with TestClient(create_app(make_settings(), rasa=rasa)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/health/ready").json() == {"status": "ok", "telegram": "off"}
        rasa.down = True
        assert client.get("/health/ready").status_code == 503
        client.post("/api/session", json={})
        metrics = client.get("/metrics").text
        assert "sanad_gateway_web_sessions_total 1.0" in metrics


def test_settings_require_a_secret_in_webhook_mode():
    with pytest.raises(ValueError):
        Settings(TELEGRAM_BOT_TOKEN="1:x", TELEGRAM_MODE="webhook")
    assert Settings(TELEGRAM_BOT_TOKEN="1:x", TELEGRAM_MODE="webhook",
                    TELEGRAM_WEBHOOK_SECRET="s").telegram_enabled
    assert not Settings().telegram_enabled
    origins = Settings(ALLOWED_ORIGINS=" https://a.ma/ ,https://b.dz").allowed_origins
    assert origins == ("https://a.ma", "https://b.dz")


# --- the client address behind reverse proxies --------------------------------------------------
# The gateway served as `python -m gateway` serves it (gateway.__main__.server_config) on a
# loopback port; the test plays the reverse proxy at 127.0.0.1, which appends the citizen's
# address to whatever X-Forwarded-For the citizen sent (nginx's $proxy_add_x_forwarded_for).

@contextlib.contextmanager
def served(**overrides: Any) -> Iterator[str]:
    settings = make_settings(**overrides)
    port = free_port()
    server = uvicorn.Server(server_config(create_app(settings, rasa=ScriptedRasa()), settings,
                                         host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def forwarded(citizen: Optional[str], written: Optional[str] = None) -> dict[str, str]:
    """X-Forwarded-For as the proxy passes it on: what the citizen wrote, then the citizen's address."""
    chain = [e for e in (written, citizen) if e]
    return {"X-Forwarded-For": ", ".join(chain)} if chain else {}


def new_session_status(url: str, headers: dict[str, str]) -> int:
    return httpx.post(f"{url}/api/session", json={}, headers=headers).status_code


@pytest.mark.parametrize("also_the_deprecated_flag", [False, True])
def test_behind_a_trusted_proxy_each_citizen_is_limited_on_the_address_the_proxy_appended(
        also_the_deprecated_flag):
    with served(TRUSTED_PROXIES="127.0.0.1", RATE_IP_SESSIONS=3,
                TRUST_PROXY_HEADERS=also_the_deprecated_flag) as url:
        # citizen A writes a new left-most entry each time: the limit still counts A's own address
        spoofing = [new_session_status(url, forwarded("198.51.100.7", written=f"203.0.113.{i}"))
                    for i in range(5)]
        other = new_session_status(url, forwarded("198.51.100.8"))  # another citizen, same proxy
        ipv6 = new_session_status(url, forwarded("2001:db8::1", written="198.51.100.8"))
    assert spoofing == [200, 200, 200, 429, 429]
    assert other == 200 and ipv6 == 200


@pytest.mark.parametrize("proxies", ["", "10.9.9.9, 192.0.2.0/24"])
def test_x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(proxies):
    # 127.0.0.1 is not among the proxies: uvicorn's own proxy headers (which trust it by default)
    # must be off, and the app's apply only to the configured addresses
    with served(TRUSTED_PROXIES=proxies, RATE_IP_SESSIONS=3) as url:
        codes = [new_session_status(url, forwarded(f"198.51.100.{i}")) for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]  # one peer, one quota, whatever it claims


async def test_websocket_connections_are_limited_per_citizen_behind_a_trusted_proxy():
    async def outcome(url: str, headers: dict[str, str], token: str) -> Any:
        async with connect(url.replace("http", "ws") + "/ws", proxy=None, open_timeout=5,
                           additional_headers=headers) as ws:
            with contextlib.suppress(ConnectionClosed):  # a refused connection may be closed already
                await ws.send(json.dumps({"type": "hello", "token": token}))
            kind = json.loads(await asyncio.wait_for(ws.recv(), 5))["type"]
            with contextlib.suppress(ConnectionClosed, asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.5)
            return kind, ws.close_code

    with served(TRUSTED_PROXIES="127.0.0.1", RATE_IP_CONNECTIONS=2) as url:
        token = httpx.post(f"{url}/api/session", json={}).json()["token"]
        citizen_a = [await outcome(url, forwarded("198.51.100.7", written=f"203.0.113.{i}"), token)
                     for i in range(3)]
        citizen_b = await outcome(url, forwarded("198.51.100.8"), token)
    assert [kind for kind, _ in citizen_a] == ["welcome", "welcome", "error"]
    assert citizen_a[2][1] == 4429
    assert citizen_b[0] == "welcome"


async def test_behind_a_tls_proxy_the_gateway_own_https_origin_is_accepted():
    """X-Forwarded-Proto from a trusted proxy: the browser's Origin is https://<host>."""
    async def handshake(url: str, headers: dict[str, str]) -> int:
        try:
            async with connect(url.replace("http", "ws") + "/ws", proxy=None, open_timeout=5,
                               origin=url.replace("http://", "https://"), additional_headers=headers):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    proto = {"X-Forwarded-Proto": "https", **forwarded("198.51.100.7")}
    with served(TRUSTED_PROXIES="127.0.0.1") as url:
        assert await handshake(url, proto) == 101
    with served() as url:  # a client's X-Forwarded-Proto is not believed either
        assert await handshake(url, proto) == 403


def test_trusted_proxies_setting_and_the_deprecated_flag():
    settings = Settings(TRUSTED_PROXIES=" 10.0.0.7 , 172.18.0.1/16,::1")
    assert settings.trusted_proxies == ("10.0.0.7", "172.18.0.0/16", "::1")
    assert Settings().trusted_proxies == ()
    for typo in ("nginx", "*", "10.0.0.300", "10.0.0.0/33"):
        with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
            Settings(TRUSTED_PROXIES=typo)
    # the old flag believed the left-most entry, which the client writes: refused on its own
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES") as refused:
        Settings(TRUST_PROXY_HEADERS=True, SESSION_SECRET="do-not-print-me")
    assert "do-not-print-me" not in str(refused.value)  # a refused setting never prints the others
    assert Settings(TRUST_PROXY_HEADERS=True, TRUSTED_PROXIES="10.0.0.7").trusted_proxies == ("10.0.0.7",)


@pytest.mark.parametrize("env", [{"SANAD_GATEWAY_TRUST_PROXY_HEADERS": "true"},
                                 {"SANAD_GATEWAY_TRUSTED_PROXIES": "nginx"}])
def test_python_m_gateway_refuses_bad_proxy_settings_in_one_clear_message(env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_GATEWAY_")}
    environ.update(env, SANAD_GATEWAY_SESSION_SECRET="do-not-print-me", SANAD_GATEWAY_PORT=str(free_port()))
    done = subprocess.run([sys.executable, "-m", "gateway"], cwd=REPO, env=environ, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "SANAD_GATEWAY_TRUSTED_PROXIES" in done.stderr and "Traceback" not in done.stderr
    assert "do-not-print-me" not in done.stderr + done.stdout
