"""The agent console in Chromium in front of the trained assistant (real Rasa and action server
processes, the assist route of bot/assist.py): a French note and an Arabic third-person summary
bring the expected entry, which is copied. Screenshots at 1280 px go to docs/."""
from __future__ import annotations

from typing import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from gateway.app.main import create_app
from tests.gateway.agent.test_console_browser import (LAPTOP, ConsoleServer, assert_no_serious_violations,  # noqa: F401
                                                      browser, clipboard, pages, sign_in)
from tests.gateway.conftest import RasaProcesses, make_settings

ANSWER_TIMEOUT = 20_000


@pytest.fixture
def server(agent_settings, clock, backend_app, accounts, rasa: RasaProcesses) -> Iterator[ConsoleServer]:
    app = create_app(make_settings(RASA_URL=rasa.url, RASA_TOKEN=rasa.token), agent={
        "agent_settings": agent_settings, "clock": clock,
        "backend_transport": httpx.ASGITransport(app=backend_app)})
    with ConsoleServer(app) as running:
        yield running
    app.state.agent.engine.dispose()


def rank_of(page: Page, topic: str) -> int:
    results = page.locator(".result")
    expect(results.first).to_be_visible(timeout=ANSWER_TIMEOUT)
    topics = [results.nth(i).get_attribute("data-topic") for i in range(results.count())]
    assert topic in topics, topics
    return topics.index(topic) + 1


def test_french_note_brings_the_payment_entry(pages, server, docs_dir):
    page = pages(server, LAPTOP)
    sign_in(page, "agent_ma")
    page.keyboard.type("le caller demande où payer ses cotisations")
    rank = rank_of(page, "payment_channels")
    entry = page.locator(f"#result-{rank}")
    expect(entry.locator(".answer[lang=fr]")).to_contain_text("cnss")
    page.keyboard.press(f"Alt+{rank}")
    expect(page.locator("#assist-status")).to_have_text(f"Réponse {rank} copiée.")
    assert clipboard(page) == entry.locator(".answer").first.inner_text()
    assert_no_serious_violations(page)
    page.screenshot(path=str(docs_dir / "agent-console-fr.png"))


def test_arabic_summary_brings_the_payment_entry_right_to_left(pages, server, docs_dir):
    page = pages(server, LAPTOP)
    sign_in(page, "agent_dz")
    page.get_by_role("button", name="العربية").click()
    page.locator("#assist-input").fill("المتصل يسأل كيف يدفع اشتراكاته")
    rank = rank_of(page, "payment_channels")
    entry = page.locator(f"#result-{rank}")
    expect(entry.locator(".answer").first).to_have_attribute("dir", "rtl")
    entry.get_by_role("button", name=f"نسخ (Alt+{rank})").click()
    expect(page.locator("#assist-status")).to_have_text(f"تم نسخ الجواب {rank}.")
    assert clipboard(page) == entry.locator(".answer").first.inner_text()
    assert_no_serious_violations(page)
    page.screenshot(path=str(docs_dir / "agent-console-ar.png"))


def test_nothing_matches_an_unrelated_request(pages, server):
    page = pages(server)
    sign_in(page, "agent_ma")
    page.keyboard.type("l'appelant veut renouveler son passeport")
    expect(page.locator("#assist-status")).to_contain_text("Aucune fiche ne correspond assez", timeout=ANSWER_TIMEOUT)
