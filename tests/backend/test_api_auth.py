"""The service credential: required on every /v1 call, checked before anything else."""
from __future__ import annotations

import pytest

V1_CALLS = [
    ("post", "/v1/verifications", {"fund": "cnss_ma", "affiliate_number": "100204821",
                                   "birth_date": "1980-03-12", "conversation_id": "c"}),
    ("post", "/v1/verifications/abc/confirm", {"code": "123456"}),
    ("post", "/v1/verifications/abc/confirm-phone", {"phone": "+212600000101"}),
    ("get", "/v1/balance", None),
]
BAD_HEADERS = {
    "missing": {},
    "wrong token": {"Authorization": "Bearer not-the-token"},
    "prefix of the token": {"Authorization": "Bearer test-service"},
    "empty bearer": {"Authorization": "Bearer "},
    "other scheme": {"Authorization": "Basic dGVzdC1zZXJ2aWNlLXRva2Vu"},
    "token without scheme": {"Authorization": "test-service-token"},
}


def test_health_needs_no_credential(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS, ids=[call[1] for call in V1_CALLS])
def test_v1_refuses_a_missing_or_wrong_credential(client, method, path, body, headers):
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": {"code": "unauthorized"}}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_credential_is_checked_before_body_and_path_validation(client):
    # Malformed JSON, invalid fields, unknown routes: without the credential, only 401.
    assert client.post("/v1/verifications", content=b"{not json",
                       headers={"Content-Type": "application/json"}).status_code == 401
    assert client.post("/v1/verifications", json={"fund": "nope"}).status_code == 401
    assert client.post("/v1/verifications/%20bad%20/confirm", json={}).status_code == 401
    assert client.get("/v1/does-not-exist").status_code == 401


def test_every_configured_credential_is_accepted(client, demos):
    demo = demos["cnss_ma:trader"]
    body = {"fund": "cnss_ma", "affiliate_number": demo.number, "birth_date": demo.birth_date.isoformat(),
            "conversation_id": "c"}
    for token in ("test-service-token", "second-test-token"):
        response = client.post("/v1/verifications", json=body, headers={"Authorization": f"bearer {token}"})
        assert response.status_code == 201, response.text


def test_an_unauthenticated_call_has_no_effect(api, client, demos):
    """Refused calls neither send codes nor count as failed attempts."""
    demo = demos["cnss_ma:trader"]
    body = {"fund": "cnss_ma", "affiliate_number": demo.number, "birth_date": "1999-01-01",
            "conversation_id": "conversation-1"}
    for _ in range(5):
        assert client.post("/v1/verifications", json=body).status_code == 401
    assert api.start(demo).status_code == 201


def test_routes_check_the_credential_even_without_the_middleware(app):
    """The route dependency is a second line: a router mounted elsewhere is still protected."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from backend.app.api.errors import install_error_handlers
    from backend.app.api.main import api_router

    bare = FastAPI()
    for name in ("settings", "clock", "sessionmaker", "sms_sender"):
        setattr(bare.state, name, getattr(app.state, name))
    install_error_handlers(bare)
    bare.include_router(api_router)
    with TestClient(bare) as client:
        refused = client.post("/v1/verifications/abc/confirm", json={"code": "123456"})
        assert refused.status_code == 401 and refused.json() == {"detail": {"code": "unauthorized"}}
        allowed = client.post("/v1/verifications/abc/confirm", json={"code": "123456"},
                              headers={"Authorization": "Bearer test-service-token"})
        assert allowed.status_code == 404
