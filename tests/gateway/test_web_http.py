"""HTTP side of the web chat: session issuing and token tampering, CORS and the
Content-Security-Policy (only the configured fund sites), the widget's assets, the demo page,
health and metrics."""
from __future__ import annotations

import base64
import json
from unittest import mock

import pytest
from fastapi.testclient import TestClient

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
