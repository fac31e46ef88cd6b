"""The published contract (backend/openapi.json): up to date, and honoured under fuzzing."""
from __future__ import annotations

import json

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.app.manage import OPENAPI_PATH, main as manage, render_openapi


def test_committed_openapi_is_the_apps(app):
    committed = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert committed == app.openapi(), (
        "backend/openapi.json differs from the app's schema: run `python -m backend.app.manage openapi`")
    assert OPENAPI_PATH.read_text(encoding="utf-8") == render_openapi(app.openapi())


def test_manage_openapi_check_passes():
    assert manage(["openapi", "--check"]) == 0


def test_every_v1_operation_requires_the_service_credential():
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    operations = [(path, op) for path, ops in document["paths"].items() for op in ops.values()]
    v1 = [(path, op) for path, op in operations if path.startswith("/v1/") and not path.startswith("/v1/agent/")]
    assert len(v1) == 4
    for path, operation in v1:
        assert operation["security"] == [{"ServiceCredential": []}], path
        assert "401" in operation["responses"], path
    assert document["components"]["securitySchemes"]["ServiceCredential"] == {
        "type": "http", "scheme": "bearer",
        "description": "The service credential shared with the bot (SANAD_BACKEND_SERVICE_TOKENS)."}


def test_every_agent_operation_requires_the_agent_credential():
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    agent = [(path, op) for path, ops in document["paths"].items() for op in ops.values()
             if path.startswith("/v1/agent/")]
    assert [path for path, _ in agent] == ["/v1/agent/balance-lookups"]
    for path, operation in agent:
        assert operation["security"] == [{"AgentCredential": []}], path
        assert "401" in operation["responses"], path
    body = document["components"]["schemas"]["AgentBalanceRequest"]
    assert set(body["required"]) == {"fund", "affiliate_number", "agent_id", "identity_check", "reason"}


# The committed document, not the app's: the contract is what is fuzzed. (A lazy schema from a
# fixture would be neater, but schemathesis 4.32's lazy loader breaks on pytest 9.)
contract = schemathesis.openapi.from_path(OPENAPI_PATH)
contract.config.generation.update(max_examples=100, database="none")


@contract.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzing_finds_no_server_error_and_no_schema_violation(case, app, auth, agent_auth):
    """Every operation, positive and negative data, with its credential (the console's for
    /v1/agent, the bot's elsewhere), against a fresh seeded app: no 5xx, and every answer is one
    the contract describes."""
    headers = agent_auth if case.path.startswith("/v1/agent/") else auth
    case.call_and_validate(app=app, headers=headers, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance,
        response_headers_conformance, response_schema_conformance,
    ])
