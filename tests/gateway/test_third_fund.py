"""Adding a fund is registry.yml and the knowledge base, and nothing else (FastAPI side): the
gateway and the affiliate API, started as real processes with SANAD_REGISTRY naming a copy of the
registry that holds the fictitious fund of tests/third_fund.py, serve it (its session, its name
in the widget and the demo page, its requests at the API); without that registry they refuse it.
The Rasa side: tests/rasa_side/test_third_fund.py."""
from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect, sync_playwright

from bot.tooling import services
from tests import third_fund
from tests.gateway.conftest import CHROMIUM, REPO

NOWHERE = "http://127.0.0.1:9"  # no Rasa: nothing here needs an answer from the assistant


def call(url: str, body: dict | None = None, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return third_fund.make(tmp_path_factory.mktemp("third-fund"))[0]


@pytest.fixture(scope="module")
def gateway(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The gateway of a deployment that serves the new fund by default."""
    logs = tmp_path_factory.mktemp("gateway")
    gateway = services.gateway_server(NOWHERE, third_fund.FUND, "unused", log=logs / "gateway.log",
                                      SANAD_REGISTRY=str(registry))
    with services.running(gateway, timeout=60):
        yield gateway


def test_the_gateway_serves_the_new_fund(gateway):
    status, config = call(f"{gateway.url}/api/widget-config")
    assert status == 200 and config["fund"] == "test_tn" and config["name"] == "TESTFUND"
    assert call(f"{gateway.url}/api/widget-config?fund=casnos_dz")[1]["name"] == "CASNOS"
    assert call(f"{gateway.url}/api/widget-config?fund=nope")[1]["fund"] == "test_tn"
    assert config["ui_langs"]["aeb"] == "ar"  # its Darija is read in the widget's Arabic
    assert call(f"{gateway.url}/api/session", {})[1]["fund"] == "test_tn"  # the deployment's default
    assert call(f"{gateway.url}/api/session", {"fund": "casnos_dz"})[1]["fund"] == "casnos_dz"
    page = urllib.request.urlopen(f"{gateway.url}/", timeout=10).read().decode()
    assert "Caisse de démonstration des tests (Tunisie)" in page and 'data-fund="test_tn"' in page


def test_the_widget_names_the_new_fund(gateway):
    """widget.js spells no fund: it shows the name the gateway gives."""
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (`make system-packages`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_context(locale="fr-FR").new_page()
        page.goto(f"{gateway.url}/")
        page.locator(".sanad-launcher").click()
        expect(page.locator(".sanad-title")).to_have_text("Sanad · TESTFUND")
        expect(page.locator(".sanad-welcome")).to_contain_text("l'assistant de la TESTFUND")
        browser.close()


def test_without_its_registry_the_gateway_refuses_the_fund():
    started = subprocess.run([services.api_python(), "-m", "gateway"], cwd=REPO, capture_output=True, text=True,
                             timeout=60, env=services.base_env(SANAD_GATEWAY_FUND=third_fund.FUND,
                                                               SANAD_GATEWAY_PORT=str(services.free_port()),
                                                               SANAD_REGISTRY=""))
    assert started.returncode != 0
    assert "SANAD_GATEWAY_FUND: 'test_tn' is not a fund of" in started.stderr
    assert "(cnss_ma, casnos_dz)" in started.stderr


@pytest.mark.parametrize("with_registry, expected", [(True, 403), (False, 422)])
def test_the_affiliate_api_takes_requests_for_the_new_fund(registry, tmp_path, with_registry, expected):
    """With the registry, an unknown number of the new fund is 'not verified' (403), as for any
    fund; without it, the fund itself is refused (422)."""
    backend = services.backend_server(log=tmp_path / "backend.log",
                                      SANAD_REGISTRY=str(registry) if with_registry else "",
                                      SANAD_BACKEND_DATABASE_URL=f"sqlite:///{tmp_path / 'backend.sqlite3'}",
                                      SANAD_BACKEND_SMS_OUTBOX_DIR=str(tmp_path / "sms"),
                                      SANAD_BACKEND_SERVICE_TOKENS="third-fund-test-token")
    with services.running(backend, timeout=60):
        status, _ = call(f"{backend.url}/v1/verifications",
                         {"fund": third_fund.FUND, "affiliate_number": "12 345 678", "birth_date": "1980-03-12",
                          "conversation_id": "web:third-fund"}, token="third-fund-test-token")
    assert status == expected


def test_the_affiliate_api_reads_phones_of_the_new_funds_country(registry):
    """Tunisia: country code 216, 8 national digits (registry.yml), where Morocco and Algeria have 9."""
    script = ("from backend.app.funds import Fund; from backend.app.identity import to_e164; "
              "print([to_e164(p, Fund('test_tn')) for p in ('+21620123456', '020123456', '0612345678')])")
    done = subprocess.run([services.api_python(), "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=services.base_env(SANAD_REGISTRY=str(registry)))
    assert done.stdout.strip() == "['+21620123456', '+21620123456', None]", done.stderr
