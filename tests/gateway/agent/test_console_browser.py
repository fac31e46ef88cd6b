"""The agent console in real headless Chromium (Debian's, driven by Playwright), served by a real
gateway on a loopback port, with the real affiliate API behind it and the stand-in Rasa ranking
(tests/gateway/stubs.py; test_console_real_rasa.py uses the trained assistant).

Covers: sign-in, sign-out and lockout; a supervisor's TOTP; assist in French and in Arabic
(right to left) with the expected entry copied by key and by button; the "nothing matches" state;
a balance look-up on behalf with its audit row visible to the supervisor and refused to the agent;
a POST without the CSRF token refused; an expired session sent back to the sign-in form; axe-core
finds no serious or critical violation."""
from __future__ import annotations

import re
import threading
import time
from typing import Iterator

import httpx
import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gateway.app.main import create_app
from tests.gateway.agent.conftest import DZ, MA, PASSWORD
from tests.gateway.conftest import CHROMIUM, free_port, make_settings

# A laptop screen with a softphone beside the console: the console gets ~2/3 of 1280 px.
CONSOLE = {"width": 860, "height": 760}
LAPTOP = {"width": 1280, "height": 800}


class ConsoleServer:
    """The gateway (with its console) in a uvicorn thread on a free loopback port."""

    def __init__(self, app) -> None:
        self.app, self.port = app, free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/agent/"

    def __enter__(self) -> "ConsoleServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for this module only (as test_widget_browser.py does)."""
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (`make system-packages`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def server(agent_settings, clock, backend_app, rasa_stub, accounts) -> Iterator[ConsoleServer]:
    app = create_app(make_settings(), rasa=rasa_stub, agent={
        "agent_settings": agent_settings, "clock": clock,
        "backend_transport": httpx.ASGITransport(app=backend_app)})
    with ConsoleServer(app) as running:
        yield running
    app.state.agent.engine.dispose()


def new_page(browser: Browser, server: ConsoleServer, viewport=CONSOLE) -> Page:
    context = browser.new_context(viewport=viewport, locale="fr-FR", permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    page.goto(server.url)
    return page


@pytest.fixture
def pages(browser):
    opened: list[Page] = []

    def open_page(server: ConsoleServer, viewport=CONSOLE) -> Page:
        page = new_page(browser, server, viewport)
        opened.append(page)
        return page

    yield open_page
    for page in opened:
        errors = page.errors  # type: ignore[attr-defined]
        page.context.close()
        assert not errors, errors


def submit(page: Page) -> int:
    """Click "Se connecter" and wait for the server's answer (its status)."""
    with page.expect_response(lambda r: r.url.endswith("/agent/api/auth/login")) as answer:
        page.get_by_role("button", name="Se connecter").click()
    return answer.value.status


def sign_in(page: Page, name: str, password: str = PASSWORD, code: str | None = None) -> None:
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(password)
    status = submit(page)
    if code is not None:
        page.get_by_label(re.compile("Code de l'application")).fill(code)
        status = submit(page)
    if status == 200:  # the console is up, focus in the assist input
        expect(page.locator("#assist-input")).to_be_focused()


def assert_no_serious_violations(page: Page) -> None:
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in bad]


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_sign_in_and_out(pages, server):
    page = pages(server)
    expect(page.get_by_label("Identifiant")).to_be_focused()
    assert_no_serious_violations(page)
    sign_in(page, "agent_ma")
    expect(page.get_by_label(re.compile("Tapez ou collez"))).to_be_focused()  # focus lands in the input
    expect(page.locator("#who")).to_have_text("agent_ma")
    expect(page.locator("#fund-name")).to_contain_text("CNSS")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.locator("#login-status")).to_have_text("Vous êtes déconnecté.")
    page.reload()
    expect(page.get_by_label("Identifiant")).to_be_visible()  # the server ended the session


def test_lockout_after_five_failures(pages, server):
    page = pages(server)
    for _ in range(5):
        sign_in(page, "agent_ma", "wrong password!")
        expect(page.locator("#login-status")).to_have_text("Identifiant ou mot de passe incorrect.")
    sign_in(page, "agent_ma")  # the right password, now too late
    expect(page.locator("#login-status")).to_have_text("Trop de tentatives. Réessayez dans 15 minute(s).")
    expect(page.locator("#console-view")).to_be_hidden()


def test_a_supervisor_signs_in_with_the_totp_code(pages, server, accounts, clock):
    page = pages(server)
    sign_in(page, "sup_ma")
    expect(page.locator("#login-status")).to_contain_text("code à 6 chiffres")
    expect(page.get_by_label(re.compile("Code de l'application"))).to_be_focused()
    page.get_by_label(re.compile("Code de l'application")).fill(accounts.code("sup_ma", clock()))
    assert submit(page) == 200
    expect(page.get_by_role("button", name="Journal d'audit")).to_be_visible()


def test_assist_in_french_copies_the_expected_entry_by_key(pages, server, rasa_stub):
    page = pages(server, LAPTOP)
    sign_in(page, "agent_ma")
    page.keyboard.type("comment payer ma cotisation ?")  # focus is already in the input
    first = page.locator("#result-1")
    expect(first).to_have_attribute("data-topic", "payment_channels")
    expect(page.locator(".result")).to_have_count(3)
    expect(first.locator(".answer").first).to_have_attribute("lang", "fr")
    expect(first).to_contain_text("Source")
    expect(first).to_contain_text("2026-11-22")
    # debounced: one ranking for the whole sentence typed, not one per keystroke
    assert len(rasa_stub.assisted) <= 3, rasa_stub.assisted
    assert rasa_stub.assisted[-1] == ("comment payer ma cotisation ?", MA, ["fr"])
    page.keyboard.press("Alt+1")
    expect(page.locator("#assist-status")).to_have_text("Réponse 1 copiée.")
    assert clipboard(page) == f"[{MA}] réponse payment_channels"
    page.keyboard.press("Alt+2")
    assert clipboard(page) == f"[{MA}] réponse contribution_deadline"
    assert_no_serious_violations(page)


def test_assist_in_arabic_right_to_left_copies_by_button(pages, server):
    page = pages(server, LAPTOP)
    sign_in(page, "agent_dz")
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_label("اكتب أو الصق كلامه بلغته (تقبل الملاحظات المختصرة)").fill("المتصل يحب يعرف كيفاش نخلص")
    first = page.locator("#result-1")
    expect(first).to_have_attribute("data-topic", "payment_channels")
    expect(first.locator(".answer[lang=ar]")).to_have_attribute("dir", "rtl")
    first.get_by_role("button", name="نسخ (Alt+1)").click()
    expect(page.locator("#assist-status")).to_have_text("تم نسخ الجواب 1.")
    assert clipboard(page) == f"[{DZ}] جواب payment_channels"
    assert_no_serious_violations(page)


def test_nothing_matching_says_so(pages, server):
    page = pages(server)
    sign_in(page, "agent_ma")
    page.keyboard.type("xyz")
    expect(page.locator("#assist-status")).to_contain_text("Aucune fiche ne correspond assez")
    expect(page.locator(".result")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.locator("#assist-status")).to_have_text("")


def test_assist_unavailable_is_an_error_state(pages, server, rasa_stub):
    page = pages(server)
    sign_in(page, "agent_ma")
    rasa_stub.down = True
    page.keyboard.type("payer")
    expect(page.locator("#assist-status")).to_have_text(re.compile("ne répond pas"))


def test_a_balance_look_up_is_audited_for_the_supervisor_not_the_agent(pages, server, demos, accounts, clock):
    demo = demos[f"{MA}:artisan"]
    agent = pages(server)
    sign_in(agent, "agent_ma")
    agent.get_by_role("button", name="Solde d'un appelant").click()
    agent.locator("#tab-balance").get_by_label("Numéro d'affiliation").fill(demo.number)
    agent.get_by_role("button", name="Afficher le solde").click()
    expect(agent.locator("#balance-status")).to_contain_text("Remplissez")  # no check, no reason: no balance
    agent.get_by_label("Vérification d'identité effectuée").select_option("id_card_and_birth_date")
    agent.get_by_label("Motif de la consultation").fill("Droits maladie suspendus ?")
    agent.get_by_role("button", name="Afficher le solde").click()
    expect(agent.locator("#balance-status")).to_have_text("Consultation enregistrée au journal d'audit (n° 1).")
    expect(agent.locator("#balance-result")).to_contain_text("•••••" + demo.number[-4:])
    expect(agent.locator("#balance-result")).not_to_contain_text(demo.number)
    assert_no_serious_violations(agent)
    # the agent has no audit tab, and the API refuses the log to them
    expect(agent.get_by_role("button", name="Journal d'audit")).to_be_hidden()
    status = agent.evaluate("fetch('/agent/api/audit').then(r => r.status)")
    assert status == 403

    supervisor = pages(server)
    sign_in(supervisor, "sup_ma", code=accounts.code("sup_ma", clock()))
    supervisor.get_by_role("button", name="Journal d'audit").click()
    row = supervisor.locator("#audit-table tbody tr").first
    expect(row).to_contain_text("agent_ma")
    expect(row).to_contain_text("Droits maladie suspendus ?")
    expect(row).to_contain_text("N° de carte d'identité et date de naissance")
    supervisor.locator("#tab-audit").get_by_label("Numéro d'affiliation").fill(demos[f"{MA}:trader"].number)
    supervisor.get_by_role("button", name="Filtrer").click()
    expect(supervisor.locator("#audit-status")).to_have_text("Aucune ligne.")
    assert_no_serious_violations(supervisor)


def test_a_post_without_the_csrf_token_is_refused(pages, server, rasa_stub):
    page = pages(server)
    sign_in(page, "agent_ma")
    result = page.evaluate("""fetch('/agent/api/assist', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                body: JSON.stringify({text: 'payer'})}).then(r => r.json().then(b => [r.status, b]))""")
    assert result == [403, {"detail": {"code": "csrf_failed"}}]
    assert rasa_stub.assisted == []


def test_an_expired_session_goes_back_to_sign_in(pages, server, clock):
    page = pages(server)
    sign_in(page, "agent_ma")
    expect(page.locator("#console-view")).to_be_visible()
    clock.advance(31 * 60)
    page.keyboard.type("payer")
    expect(page.locator("#login-status")).to_have_text("Votre session a expiré. Reconnectez-vous.")
    expect(page.get_by_label("Identifiant")).to_be_focused()


def test_the_arabic_sign_in_page_has_no_serious_violation(pages, server):
    page = pages(server)
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", name="تسجيل الدخول")).to_be_visible()
    assert_no_serious_violations(page)
