"""The review and dashboard views of the agent console in real headless Chromium (Debian's, driven
by Playwright), served by a real gateway on a loopback port, with the stand-in grouping
(tests/gateway/stubs.py review_groups): a supervisor reviews a group by keyboard and mouse, leaves a
stray message out, exports the rest under a topic and downloads the file, marks another group out
of scope; no personal data on the page or in the file; agents get no review tab and a 403, but see
their fund's dashboard drawn by the vendored Chart.js; French and Arabic (right to left); axe-core
finds no serious or critical violation."""
from __future__ import annotations

import re

import yaml
from playwright.sync_api import expect

from gateway.app.agent.turnlog import TurnLog
from gateway.app.rasa_client import parse_replies
from tests.gateway.agent.conftest import DZ, MA
from tests.gateway.agent.test_console_browser import (  # noqa: F401  (fixtures)
    LAPTOP, assert_no_serious_violations, browser, pages, server, sign_in)
from tests.gateway.agent.test_review import PERSONAL, declined, decided
from tests.gateway.stubs import faq_answer


def feed(server, text, replies, fund=MA, conversation="web:1", channel="web") -> None:
    """What the relay's observer does for a turn (TurnLog.record_turn runs `record` in a thread;
    Playwright's own event loop holds this one)."""
    TurnLog(server.app.state.agent).record(channel, conversation, fund, text, parse_replies(replies))


def supervise(page, accounts, clock, name="sup_ma") -> None:
    sign_in(page, name, code=accounts.code(name, clock()))


def test_a_supervisor_exports_a_group_under_a_topic_and_marks_one_out_of_scope(pages, server, accounts, clock):
    feed(server, "cotisation pour mon fils étudiant, numéro 123 456 789", declined(), conversation="web:1")
    feed(server, "cotisation de ma femme au foyer, née le 12/03/1980", declined(), conversation="web:2")
    feed(server, "cotisation du chat ?", declined(), conversation="web:3")  # a stray one, left out
    feed(server, "météo demain, appelez le 0612345678", declined(), conversation="web:4")
    feed(server, "quel temps fait-il à oran", declined(), fund=DZ, conversation="web:5")  # the other fund's
    page = pages(server, LAPTOP)
    supervise(page, accounts, clock)
    page.get_by_role("button", name="À revoir").click()
    status = page.locator("#review-status")
    expect(status).to_have_text("4 message(s) à revoir en 2 groupe(s). Par langue : français 4.")
    first = page.locator("#group-1")
    expect(first.get_by_role("heading")).to_have_text("Groupe 1 : « cotisation du chat ? »")
    expect(first).to_contain_text("3 message(s)")
    expect(first).to_contain_text("cotisation pour mon fils étudiant, numéro […]")
    body = page.locator("body").inner_text()
    assert "oran" not in body
    for value in PERSONAL:
        assert value not in body, value
    assert_no_serious_violations(page)

    first.get_by_label("cotisation du chat ?").uncheck()
    first.get_by_role("button", name="Exporter comme exemples du sujet").click()
    expect(status).to_have_text("Choisissez d'abord un sujet.")
    first.get_by_label("Sujet").select_option(label="Famille couverte (conjoint, enfants)")
    first.get_by_role("button", name="Exporter comme exemples du sujet").click()
    expect(status).to_have_text("2 exemple(s) enregistré(s) sous « Famille couverte (conjoint, enfants) ».")
    expect(page.locator("#review-decisions tbody tr")).to_have_count(1)
    expect(page.locator(".group")).to_have_count(2)  # the stray message, and the weather

    with page.expect_download() as download:
        page.locator("#review-decisions").get_by_role("link", name="Télécharger").click()
    exported = download.value.path().read_text(encoding="utf-8")
    data = yaml.safe_load(exported)
    assert data["version"] == "3.1" and [b["intent"] for b in data["nlu"]] == ["dependants"]
    assert data["nlu"][0]["examples"].splitlines() == ["- cotisation pour mon fils étudiant, numéro …",
                                                      "- cotisation de ma femme au foyer, née le …"]
    for value in PERSONAL:
        assert value not in exported, value

    # the weather group, by keyboard only: focus its out-of-scope button and press Enter
    weather = page.locator(".group", has_text="météo demain")
    weather.get_by_role("button", name="Marquer hors sujet").focus()
    page.keyboard.press("Enter")
    expect(status).to_have_text("1 message(s) marqué(s) hors sujet.")
    expect(page.locator(".group")).to_have_count(1)
    assert_no_serious_violations(page)


def test_review_in_arabic_reads_right_to_left(pages, server, accounts, clock):
    feed(server, "واش كاين منحة ديال الطلبة؟ رقمي ١٠٠ ٢٠٤ ٨٢١", declined("ary", "arab"))
    page = pages(server, LAPTOP)
    supervise(page, accounts, clock)
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("button", name="للمراجعة").click()
    expect(page.locator("#review-status")).to_have_text("1 رسالة للمراجعة في 1 مجموعة. حسب اللغة: الدارجة المغربية 1.")
    message = page.locator("#group-1 .message span[lang=ary]")
    expect(message).to_have_text("واش كاين منحة ديال الطلبة؟ رقمي […]")
    expect(page.locator("#group-1").get_by_label("الموضوع")).to_be_visible()
    assert_no_serious_violations(page)


def test_an_agent_has_no_review_but_sees_the_funds_dashboard(pages, server):
    feed(server, "payer", faq_answer(), conversation="web:a")
    feed(server, "météo", declined(), conversation="web:a")
    feed(server, "bghit nhder m3a chi wa7ed", decided("human_handoff", "ary"), conversation="tg:b", channel="telegram")
    feed(server, "payer", faq_answer(), fund=DZ, conversation="web:z")
    page = pages(server, LAPTOP)
    sign_in(page, "agent_ma")
    expect(page.get_by_role("button", name="À revoir")).to_be_hidden()
    assert page.evaluate("fetch('/agent/api/review/groups').then(r => r.status)") == 403
    page.get_by_role("button", name="Tableau de bord").click()
    expect(page.locator("#figure-conversations dd")).to_have_text("2")
    expect(page.locator("#figure-fallback_rate dd")).to_have_text("33.3 %")
    expect(page.locator("#figure-handoff_rate dd")).to_have_text("50 %")
    expect(page.locator("#figure-median_wait dd")).to_have_text("pas de données")
    expect(page.locator("#dashboard-charts canvas")).to_have_count(4)
    assert page.evaluate("typeof window.Chart") == "function"  # the vendored Chart.js, from our origin
    assert page.evaluate("Object.keys(Chart.instances).length") == 4
    channel = page.locator("#chart-per_channel canvas")
    expect(channel).to_have_attribute("aria-label", re.compile("Telegram 1"))
    page.locator("#chart-per_topic summary").click()
    expect(page.locator("#chart-per_topic table")).to_contain_text("Où et comment payer")
    assert_no_serious_violations(page)

    page.get_by_role("button", name="العربية").click()
    expect(page.locator("#chart-per_lang h2")).to_have_text("حسب اللغة")
    expect(page.locator("#figure-median_wait dd")).to_have_text("لا توجد معطيات")
    assert page.evaluate("Object.keys(Chart.instances).length") == 4  # redrawn, not piled up
    assert_no_serious_violations(page)


def test_a_dashboard_without_conversations_says_so(pages, server):
    page = pages(server)
    sign_in(page, "agent_dz")
    page.get_by_role("button", name="Tableau de bord").click()
    expect(page.locator("#dashboard-status")).to_have_text("Aucune donnée sur la période.")
    expect(page.locator("#dashboard-charts canvas")).to_have_count(0)
    page.get_by_label("Période").select_option(label="7 derniers jours")
    expect(page.locator("#dashboard-status")).to_have_text("Aucune donnée sur la période.")
