"""POST /v1/agent/balance-lookups: a call-centre agent reads a caller's masked balance, with the
console's own credential, naming themselves, the identity check and the reason."""
from __future__ import annotations

import pytest

from backend.app.core.config import Settings
from backend.app.funds import Fund
from backend.app.main import create_app
from tests.backend.conftest import AUTH

PATH = "/v1/agent/balance-lookups"
MA, DZ = (fund.value for fund in Fund)


def lookup_body(demo, **overrides):
    body = {"fund": demo.fund.value, "affiliate_number": demo.number, "agent_id": "amina",
            "identity_check": "id_card_and_birth_date", "reason": "Le caller demande son solde"}
    body.update(overrides)
    return body


@pytest.mark.both_databases
def test_the_agent_credential_reads_the_masked_balance(client, demos, agent_auth):
    demo = demos[f"{MA}:artisan"]
    response = client.post(PATH, json=lookup_body(demo), headers=agent_auth)
    assert response.status_code == 200, response.text
    balance = response.json()
    assert balance["fund"] == MA
    assert balance["affiliate_ref"].endswith(demo.number[-4:])
    assert demo.number not in response.text
    assert balance["health_rights"]["open"] is False


def test_the_bots_credential_does_not_open_the_agent_route(client, demos):
    response = client.post(PATH, json=lookup_body(demos[f"{MA}:trader"]), headers=AUTH)
    assert response.status_code == 401
    assert response.json() == {"detail": {"code": "unauthorized"}}


def test_the_agent_credential_does_not_open_the_bots_routes(client, demos, agent_auth):
    demo = demos[f"{MA}:trader"]
    body = {"fund": MA, "affiliate_number": demo.number, "birth_date": demo.birth_date.isoformat(),
            "conversation_id": "c"}
    assert client.post("/v1/verifications", json=body, headers=agent_auth).status_code == 401
    assert client.get("/v1/balance", headers=agent_auth).status_code == 401


def test_without_configured_agent_credentials_every_agent_call_is_refused(settings, demos):
    from fastapi.testclient import TestClient

    closed = Settings(**{**settings.model_dump(), "AGENT_TOKENS": ""})
    with TestClient(create_app(closed)) as client:
        for token in ("", "test-agent-token", "test-service-token"):
            response = client.post(PATH, json=lookup_body(demos[f"{MA}:trader"]),
                                   headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401


@pytest.mark.parametrize("missing", ["agent_id", "identity_check", "reason"])
def test_agent_id_identity_check_and_reason_are_required(client, demos, agent_auth, missing):
    body = lookup_body(demos[f"{MA}:trader"])
    del body[missing]
    response = client.post(PATH, json=body, headers=agent_auth)
    assert response.status_code == 422
    assert missing in str(response.json()["detail"])


@pytest.mark.parametrize("field,value", [("identity_check", "trust_me"), ("reason", "  ok "),
                                         ("agent_id", "x" * 65), ("agent_id", "a b")])
def test_invalid_values_are_refused_without_being_echoed(client, demos, agent_auth, field, value):
    demo = demos[f"{MA}:trader"]
    response = client.post(PATH, json=lookup_body(demo, **{field: value}), headers=agent_auth)
    assert response.status_code == 422
    assert demo.number not in response.text and value not in response.text


def test_a_number_of_the_other_fund_is_not_found(client, demos, agent_auth):
    algerian = demos[f"{DZ}:trader"]
    response = client.post(PATH, json=lookup_body(algerian, fund=MA), headers=agent_auth)
    assert response.status_code == 404
    assert response.json() == {"detail": {"code": "not_found"}}
    assert client.post(PATH, json=lookup_body(algerian), headers=agent_auth).status_code == 200
