"""Live handoff in real headless Chromium (Debian's, Playwright): a citizen in the widget and an
agent in the console, on one real gateway (uvicorn, loopback), Rasa a scripted stand-in.

The citizen asks for a person; the conversation appears in the agent's inbox without a reload
(Server-Sent Events); the agent claims it from the keyboard, sees the suggested answers, replies
(Ctrl+Enter); the citizen sees the reply as a person's message; the citizen's next message reaches
the agent's screen and not the assistant; the agent hands back and the citizen's next FAQ is
answered by the assistant. The inbox view in French and in Arabic passes axe-core."""
from __future__ import annotations

from datetime import timezone
from typing import Iterator

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gateway.app.main import create_app
from gateway.app.messages import MESSAGES
from tests.gateway.agent.conftest import PASSWORD
from tests.gateway.agent.test_console_browser import ConsoleServer
from tests.gateway.agent.test_handoff import OPEN_HOURS, citizen_script
from tests.gateway.conftest import CHROMIUM, make_settings


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (`make system-packages`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def server(agent_settings, clock, backend_app, rasa_stub, accounts) -> Iterator[ConsoleServer]:
    clock.now = OPEN_HOURS
    rasa_stub.script = citizen_script
    app = create_app(make_settings(), rasa=rasa_stub, agent={
        "agent_settings": agent_settings, "clock": clock,
        "backend_transport": httpx.ASGITransport(app=backend_app)})
    with ConsoleServer(app) as running:
        yield running
    app.state.agent.engine.dispose()


@pytest.fixture
def pages(browser):
    """Pages closed before the server stops (tests ask for `server` first): an open console keeps
    its event stream, which a stopping server would have to cut."""
    opened: list[Page] = []

    def open_page(url: str, viewport: dict) -> Page:
        context = browser.new_context(viewport=viewport, locale="fr-FR")
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
        page.goto(url)
        opened.append(page)
        return page

    yield open_page
    for page in opened:
        errors = page.errors  # type: ignore[attr-defined]
        page.context.close()
        assert not errors, errors


def widget(pages, server: ConsoleServer) -> Page:
    page = pages(server.url.replace("/agent/", "/"), {"width": 390, "height": 760})
    page.get_by_role("button", name="Ouvrir l'assistant Sanad").click()
    expect(page.locator(".sanad-panel")).to_be_visible()
    return page


def console(pages, server: ConsoleServer, name: str = "agent_ma") -> Page:
    page = pages(server.url, {"width": 1100, "height": 800})
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("#assist-input")).to_be_focused()
    page.get_by_role("button", name="Conversations").click()
    expect(page.locator("#tab-inbox")).to_be_visible()
    return page


def say(citizen: Page, text: str) -> None:
    citizen.locator("#sanad-input").fill(text)
    citizen.locator("#sanad-input").press("Enter")


def assert_axe_clean(page: Page) -> None:
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]


def test_a_citizen_reaches_an_agent_and_comes_back_to_the_assistant(server, pages, rasa_stub):
    agent = console(pages, server)
    expect(agent.locator("#inbox-empty")).to_be_visible()
    citizen = widget(pages, server)
    say(citizen, "je veux parler à un conseiller")
    expect(citizen.locator(".sanad-bot").last).to_contain_text("Vous êtes n° 1 dans la file d'attente")

    item = agent.locator("#inbox-list .inbox-item").first  # arrived live: no reload
    expect(item).to_contain_text("Widget web · français · en attente")
    expect(agent.get_by_role("button", name="Conversations (1)")).to_be_visible()
    item.locator("button").focus()
    agent.keyboard.press("Enter")
    expect(agent.locator("#inbox-transcript")).to_contain_text("je veux parler à un conseiller")
    agent.locator("#inbox-claim").focus()
    agent.keyboard.press("Enter")
    expect(agent.locator("#inbox-reply")).to_be_focused()
    expect(citizen.locator(".sanad-notice").last).to_contain_text(MESSAGES["handoff_claimed"]["fr"])
    expect(agent.locator("#inbox-suggestions .suggestion")).to_have_count(3)

    agent.keyboard.type("Bonjour, je suis Nadia, conseillère. Je regarde votre question.")
    agent.keyboard.press("Control+Enter")
    reply = citizen.locator(".sanad-agent").last
    expect(reply).to_contain_text("Bonjour, je suis Nadia")
    expect(reply.locator(".sanad-agent-label")).to_have_text("Conseiller :")

    sent = len(rasa_stub.received)
    say(citizen, "merci, c'est pour ma retraite")
    expect(agent.locator("#inbox-transcript .line-citizen").last).to_contain_text("c'est pour ma retraite")
    expect(citizen.locator(".sanad-user").last).to_have_attribute("data-state", "sent")
    assert len(rasa_stub.received) == sent  # the assistant never saw it

    assert_axe_clean(agent)
    agent.get_by_role("button", name="Rendre à l'assistant").click()
    expect(citizen.locator(".sanad-notice").last).to_contain_text(MESSAGES["handoff_returned"]["fr"])
    expect(agent.locator("#inbox-empty")).to_be_visible()

    say(citizen, "comment payer mes cotisations ?")
    expect(citizen.locator(".sanad-bot").last).to_contain_text("Vous pouvez payer en ligne")
    assert rasa_stub.received[-1][1] == "comment payer mes cotisations ?"
    expect(citizen.locator(".sanad-agent")).to_have_count(1)  # shown once


def test_the_inbox_in_arabic_is_right_to_left_and_axe_clean(server, pages):
    citizen = widget(pages, server)
    say(citizen, "je veux parler à un conseiller")
    expect(citizen.locator(".sanad-bot").last).to_contain_text("file d'attente")
    agent = console(pages, server)
    agent.locator("#lang-switch").click()
    expect(agent.locator("html")).to_have_attribute("dir", "rtl")
    expect(agent.locator("#inbox-title")).to_have_text("المحادثات المحولة من المساعد")
    agent.locator("#inbox-list button").first.click()
    expect(agent.get_by_role("button", name="تولي المحادثة")).to_be_visible()
    assert_axe_clean(agent)


def test_the_closing_hours_reply_in_the_widget(server, pages, clock):
    clock.now = OPEN_HOURS.replace(hour=19, tzinfo=timezone.utc)  # 20:00 in Casablanca
    citizen = widget(pages, server)
    say(citizen, "je veux parler à un conseiller")
    answer = citizen.locator(".sanad-bot").last
    expect(answer).to_contain_text("ne sont pas disponibles en ce moment")
    expect(answer).to_contain_text("24/11/2026 à 08:30")
    expect(answer).to_contain_text("3939")


def test_a_widget_away_during_the_replies_shows_each_once_when_back(server, pages):
    from tests.gateway.agent.measure_handoff_latency import Agent

    citizen = widget(pages, server)
    say(citizen, "je veux parler à un conseiller")
    expect(citizen.locator(".sanad-bot").last).to_contain_text("file d'attente")
    home = citizen.url
    citizen.goto("about:blank")  # the citizen left the fund's page
    agent = Agent(server.url.removesuffix("/agent/"))
    [item] = agent.inbox()
    agent.post(f"/inbox/{item['id']}/claim")
    for text in ("Bonjour, je suis là.", "Votre dossier est à jour."):
        agent.post(f"/inbox/{item['id']}/reply", {"text": text})
    citizen.goto(home)  # back: the widget reconnects by itself (a handoff is under way)
    expect(citizen.locator(".sanad-agent")).to_have_count(2)
    expect(citizen.locator(".sanad-agent").last).to_contain_text("Votre dossier est à jour.")
    expect(citizen.locator(".sanad-notice", has_text=MESSAGES["handoff_claimed"]["fr"])).to_have_count(1)
    citizen.reload()  # acknowledged: the history shows them, the gateway does not send them again
    expect(citizen.locator(".sanad-agent")).to_have_count(2)
    citizen.wait_for_timeout(500)
    expect(citizen.locator(".sanad-agent")).to_have_count(2)
