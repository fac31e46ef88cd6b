"""The console's HTTP API: sign-in, sessions, CSRF, throttling, TOTP, fund isolation, roles,
balance look-ups on behalf and their audit log, suggestion acceptance."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import text

from gateway.app.agent.db.models import AgentSession, AuditEntry
from gateway.app.agent.routes.balance import IDENTITY_CHECKS
from tests.gateway.agent.conftest import DZ, MA, PASSWORD, START

LOOKUP = "/agent/api/balance-lookups"


def lookup(console, number: str, check: str = "id_card_and_birth_date", reason: str = "Appel: solde AMO"):
    return console.post(LOOKUP, {"affiliate_number": number, "identity_check": check, "reason": reason})


# ---- every route closed to a logged-out client --------------------------------------------------

def api_routes(app):
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/agent/api/") and path != "/agent/api/auth/login":
            for method in operations:
                yield method.upper(), path


def test_every_agent_api_route_answers_401_logged_out(console, console_app):
    routes = list(api_routes(console_app))
    assert len(routes) >= 8
    for method, path in routes:
        response = console.client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["detail"]["code"] == "no_session"
        assert response.headers["cache-control"] == "no-store"


def test_a_forged_session_cookie_is_no_session(console):
    console.client.cookies.set("sanad_agent", "made-up", path="/agent")
    assert console.get("/agent/api/auth/me").status_code == 401


# ---- sign-in --------------------------------------------------------------------------------

def test_sign_in_sets_a_strict_httponly_cookie_and_gives_the_account(console):
    response = console.login("agent_ma")
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/agent" in cookie
    assert "Secure" not in cookie  # plain http on loopback; `auto` sets it over https
    me = console.get("/agent/api/auth/me").json()
    assert me["name"] == "agent_ma" and me["fund"] == MA and me["role"] == "agent"
    assert me["identity_checks"] == list(IDENTITY_CHECKS)
    assert me["rtl_languages"] == ["ar", "ary", "arq"]  # registry.yml's Arabic-script languages


def test_the_cookie_is_secure_over_https(console_app, accounts):
    from fastapi.testclient import TestClient

    with TestClient(console_app, base_url="https://console.test") as client:
        response = client.post("/agent/api/auth/login", json={"name": "agent_ma", "password": PASSWORD})
        assert response.status_code == 200
        assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("name,password", [("agent_ma", "wrong password!"), ("nobody", PASSWORD),
                                           ("AGENT_MA", "wrong password!")])
def test_a_wrong_name_or_password_gets_one_generic_answer(console, name, password):
    response = console.login(name, password)
    assert response.status_code == 401
    assert response.json() == {"detail": {"code": "invalid_credentials"}}


def test_names_are_case_insensitive(console):
    assert console.login("Agent_MA").status_code == 200


def test_every_sign_in_gets_a_new_session_id_and_the_old_one_ends(console, console_app):
    first = console.login("agent_ma")
    old_cookie = console.client.cookies.get("sanad_agent")
    old_csrf = first.json()["csrf_token"]
    second = console.login("agent_ma")
    new_cookie = console.client.cookies.get("sanad_agent")
    assert new_cookie != old_cookie and second.json()["csrf_token"] != old_csrf
    console.client.cookies.set("sanad_agent", old_cookie, path="/agent")
    assert console.get("/agent/api/auth/me").status_code == 401
    with console_app.state.agent.sessionmaker() as db:
        assert db.query(AgentSession).count() == 1


def test_sessions_are_stored_hashed(console, console_app):
    console.login("agent_ma")
    cookie = console.client.cookies.get("sanad_agent")
    with console_app.state.agent.sessionmaker() as db:
        assert [s.id_hash for s in db.query(AgentSession)] != [cookie]
        assert cookie not in str([s.id_hash for s in db.query(AgentSession)])


def test_logout_ends_the_session_on_the_server(console):
    console.login("agent_ma")
    cookie = console.client.cookies.get("sanad_agent")
    assert console.post("/agent/api/auth/logout").status_code == 204
    console.client.cookies.set("sanad_agent", cookie, path="/agent")  # a copy of the old cookie
    assert console.get("/agent/api/auth/me").status_code == 401


# ---- throttling -----------------------------------------------------------------------------

def test_five_failures_lock_the_account_even_with_the_right_password(console, clock):
    for _ in range(5):
        assert console.login("agent_ma", "wrong password!").status_code == 401
    locked = console.login("agent_ma")
    assert locked.status_code == 429
    assert locked.json()["detail"]["code"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    clock.advance(15 * 60 + 1)
    assert console.login("agent_ma").status_code == 200


def test_parallel_guesses_do_not_slip_past_the_limit(console_app, accounts):
    """Ten wrong passwords at once (argon2 takes a while): at most five are even checked. A guess
    refused in the burst is not counted (it was never checked), so how many of the five the burst
    used depends on how the requests interleave; however they do, the window never checks a sixth."""
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    def guess(_):
        with TestClient(console_app) as client:
            return client.post("/agent/api/auth/login", json={"name": "agent_ma", "password": "wrong password!"}).status_code

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(guess, range(10)))
    assert set(answers) <= {401, 429} and answers.count(401) <= 5, answers
    checked = answers.count(401)
    with TestClient(console_app) as client:
        while True:  # the rest of the window's guesses, one at a time
            status = client.post("/agent/api/auth/login", json={"name": "agent_ma", "password": "wrong again!"}).status_code
            if status == 429:
                break
            assert status == 401
            checked += 1
        assert checked == 5
        assert client.post("/agent/api/auth/login", json={"name": "agent_ma", "password": PASSWORD}).status_code == 429


def test_unknown_and_known_accounts_get_identical_lock_answers(console_app, accounts):
    from fastapi.testclient import TestClient

    bodies = []
    for index, name in enumerate(("agent_ma", "nobody")):
        with TestClient(console_app, client=(f"10.0.0.{index + 1}", 5000)) as client:
            for _ in range(5):
                client.post("/agent/api/auth/login", json={"name": name, "password": "wrong password!"})
            response = client.post("/agent/api/auth/login", json={"name": name, "password": "x"})
            bodies.append((response.status_code, response.json(), response.headers["Retry-After"]))
    assert bodies[0] == bodies[1]
    assert bodies[0][0] == 429


def test_five_failures_from_one_address_lock_it_for_every_account(console_app, accounts):
    from fastapi.testclient import TestClient

    with TestClient(console_app, client=("10.9.9.9", 5000)) as client:
        for index in range(5):  # a different account each time: only the address adds up
            client.post("/agent/api/auth/login", json={"name": f"guess{index}", "password": "wrong password!"})
        response = client.post("/agent/api/auth/login", json={"name": "agent_dz", "password": PASSWORD})
        assert response.status_code == 429
    with TestClient(console_app, client=("10.9.9.10", 5000)) as client:
        assert client.post("/agent/api/auth/login", json={"name": "agent_dz", "password": PASSWORD}).status_code == 200


# ---- TOTP -----------------------------------------------------------------------------------

def test_a_supervisor_needs_the_totp_code(console, accounts, clock):
    without = console.client.post("/agent/api/auth/login", json={"name": "sup_ma", "password": PASSWORD})
    assert without.status_code == 401 and without.json()["detail"]["code"] == "totp_required"
    assert "set-cookie" not in without.headers
    wrong = console.login("sup_ma", code="000000" if accounts.code("sup_ma", clock()) != "000000" else "111111")
    assert wrong.status_code == 401 and wrong.json()["detail"]["code"] == "invalid_code"
    assert console.login("sup_ma").status_code == 200


def test_a_totp_code_is_accepted_once(console, other_console, accounts, clock):
    code = accounts.code("sup_ma", clock())
    assert console.login("sup_ma", code=code).status_code == 200
    replay = other_console.login("sup_ma", code=code)
    assert replay.status_code == 401 and replay.json()["detail"]["code"] == "invalid_code"


def test_totp_failures_count_towards_the_lock(console, accounts, clock):
    for _ in range(5):
        console.login("sup_ma", code="abcdef")
    assert console.login("sup_ma").status_code == 429


# ---- sessions: expiry, disabled accounts ------------------------------------------------------

def test_an_idle_session_expires(console, clock):
    console.login("agent_ma")
    clock.advance(29 * 60)
    assert console.get("/agent/api/auth/me").status_code == 200  # use keeps it alive
    clock.advance(29 * 60)
    assert console.get("/agent/api/auth/me").status_code == 200
    clock.advance(30 * 60)
    response = console.get("/agent/api/auth/me")
    assert response.status_code == 401 and response.json()["detail"]["code"] == "session_expired"
    assert console.get("/agent/api/auth/me").json()["detail"]["code"] == "no_session"  # deleted


def test_a_session_ends_after_its_absolute_lifetime_even_in_use(console, clock):
    console.login("agent_ma")
    for _ in range(int(10 * 60 / 20)):
        clock.advance(20 * 60)
        if console.get("/agent/api/auth/me").status_code != 200:
            break
    assert clock() - START >= timedelta(hours=10)
    assert console.get("/agent/api/auth/me").status_code == 401


def test_disabling_an_account_ends_its_sessions(console, other_console, accounts):
    from gateway.app.agent import manage
    from gateway.app.agent.db.session import make_engine, make_sessionmaker

    console.login("agent_ma")
    other_console.login("agent_ma")
    engine = make_engine(accounts.database_url)
    with make_sessionmaker(engine)() as db:
        assert manage.disable(db, "agent_ma") == ["disabled agent_ma; 2 session(s) ended"]
    engine.dispose()
    assert console.get("/agent/api/auth/me").status_code == 401
    assert other_console.get("/agent/api/auth/me").status_code == 401
    assert console.login("agent_ma").json() == {"detail": {"code": "invalid_credentials"}}


def test_a_password_reset_ends_the_sessions(console, accounts):
    from gateway.app.agent import manage
    from gateway.app.agent.db.session import make_engine, make_sessionmaker

    console.login("agent_ma")
    engine = make_engine(accounts.database_url)
    with make_sessionmaker(engine)() as db:
        lines = manage.reset_password(db, "agent_ma", from_stdin=False)
    engine.dispose()
    new_password = lines[1].split(": ", 1)[1]
    assert console.get("/agent/api/auth/me").status_code == 401
    assert console.login("agent_ma").status_code == 401
    assert console.login("agent_ma", new_password).status_code == 200


# ---- CSRF and origin ------------------------------------------------------------------------

@pytest.mark.parametrize("path,body", [
    ("/agent/api/auth/logout", None),
    ("/agent/api/assist", {"text": "comment payer"}),
    (LOOKUP, {"affiliate_number": "100204821", "identity_check": "id_card_and_birth_date", "reason": "solde"}),
])
def test_a_state_changing_request_without_the_csrf_token_is_refused(console, path, body):
    console.login("agent_ma")
    missing = console.post(path, body, csrf=False)
    assert missing.status_code == 403 and missing.json()["detail"]["code"] == "csrf_failed"
    wrong = console.post(path, body, csrf=False, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert console.get("/agent/api/auth/me").status_code == 200  # still signed in: nothing happened


def test_a_post_from_another_origin_is_refused(console):
    console.login("agent_ma")
    response = console.post("/agent/api/assist", {"text": "payer"}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and response.json()["detail"]["code"] == "forbidden_origin"
    login = console.client.post("/agent/api/auth/login", json={"name": "agent_ma", "password": PASSWORD},
                                headers={"Origin": "https://evil.example"})
    assert login.status_code == 403


# ---- assist: the fund comes from the session ------------------------------------------------

def test_assist_ranks_with_the_sessions_fund_never_the_requests(console, rasa_stub):
    console.login("agent_dz")
    response = console.post("/agent/api/assist", {"text": "comment payer", "ui_lang": "ar", "fund": MA})
    assert response.status_code == 200, response.text
    body = response.json()
    assert rasa_stub.assisted == [("comment payer", DZ, ["ar"])]
    assert [e["topic"] for e in body["entries"]][0] == "payment_channels"
    assert all(e["title"].startswith(f"[{DZ}]") for e in body["entries"])
    assert set(body["entries"][0]["answer"]) == {"fr", "ar"}
    assert body["ranking_id"]


def test_each_funds_agent_sees_only_its_funds_entries(console, other_console):
    console.login("agent_ma")
    other_console.login("agent_dz")
    ma = console.post("/agent/api/assist", {"text": "payer"}).json()["entries"]
    dz = other_console.post("/agent/api/assist", {"text": "payer"}).json()["entries"]
    assert ma and all(DZ not in str(entry) for entry in ma)
    assert dz and all(MA not in str(entry) for entry in dz)


def test_nothing_matching_is_an_empty_list(console):
    console.login("agent_ma")
    assert console.post("/agent/api/assist", {"text": "xyz"}).json()["entries"] == []


def test_assist_says_when_the_assistant_is_unavailable(console, rasa_stub):
    console.login("agent_ma")
    rasa_stub.down = True
    response = console.post("/agent/api/assist", {"text": "payer"})
    assert response.status_code == 503 and response.json()["detail"]["code"] == "assist_unavailable"


# ---- suggestion acceptance ------------------------------------------------------------------

def test_acceptance_rate_per_language_and_topic_without_the_text(console, other_console, console_app):
    console.login("agent_ma")
    first = console.post("/agent/api/assist", {"text": "comment payer"}).json()
    second = console.post("/agent/api/assist", {"text": "كيفاش نخلص"}).json()
    nothing = console.post("/agent/api/assist", {"text": "xyz"}).json()
    for ranking in (first, second, nothing):
        assert console.post("/agent/api/assist/events", {"ranking_id": ranking["ranking_id"],
                                                         "event": "shown"}).status_code == 204
    console.post("/agent/api/assist/events", {"ranking_id": first["ranking_id"], "event": "shown"})  # once
    assert console.post("/agent/api/assist/events", {"ranking_id": first["ranking_id"], "event": "copied",
                                                     "rank": 1}).status_code == 204
    # another account cannot report on this ranking
    other_console.login("agent_dz")
    assert other_console.post("/agent/api/assist/events", {"ranking_id": first["ranking_id"], "event": "copied",
                                                           "rank": 2}).status_code == 404
    assert console.get("/agent/api/assist/acceptance").status_code == 403
    supervisor = other_console
    supervisor.client.cookies.clear()
    supervisor.login("sup_ma")
    rows = supervisor.get("/agent/api/assist/acceptance").json()["rows"]
    by_key = {(r["lang"], r["topic"]): r for r in rows}
    assert by_key[("fr", "payment_channels")] == {"lang": "fr", "topic": "payment_channels", "shown": 1,
                                                  "copied": 1, "rate": 1.0}
    assert by_key[("ar", "payment_channels")]["copied"] == 0
    assert by_key[("fr", None)]["shown"] == 1  # "nothing matches" was shown once
    with console_app.state.agent.sessionmaker() as db:
        dump = str(db.execute(text("SELECT * FROM agent_assist_events")).all())
    assert "payer" not in dump and "نخلص" not in dump


# ---- balance on behalf, and its audit log ---------------------------------------------------

def test_a_balance_look_up_shows_the_masked_balance_and_is_audited(console, demos, console_app):
    demo = demos[f"{MA}:artisan"]
    console.login("agent_ma")
    response = lookup(console, demo.number)
    assert response.status_code == 200, response.text
    assert response.json()["balance"]["affiliate_ref"].endswith(demo.number[-4:])
    assert demo.number not in response.text
    with console_app.state.agent.sessionmaker() as db:
        row = db.query(AuditEntry).one()
    assert (row.agent, row.fund, row.identity_check, row.result) == ("agent_ma", MA, "id_card_and_birth_date", "shown")
    assert row.masked_number.endswith(demo.number[-4:]) and demo.number not in row.masked_number
    assert row.reason == "Appel: solde AMO"


def test_a_refused_look_up_is_audited_too(console, demos, console_app):
    console.login("agent_ma")
    other_funds_number = demos[f"{DZ}:trader"].number
    response = lookup(console, other_funds_number)
    assert response.status_code == 404 and response.json()["detail"]["code"] == "not_found"
    with console_app.state.agent.sessionmaker() as db:
        assert [r.result for r in db.query(AuditEntry)] == ["not_found"]


@pytest.mark.parametrize("body", [
    {"affiliate_number": "100204821", "identity_check": "trust_me", "reason": "solde du caller"},
    {"affiliate_number": "100204821", "identity_check": "id_card_and_birth_date", "reason": "  "},
    {"affiliate_number": "12ab", "identity_check": "id_card_and_birth_date", "reason": "solde du caller"},
    {"affiliate_number": "100204821", "reason": "solde du caller"},
])
def test_no_balance_without_a_listed_identity_check_and_a_reason(console, body):
    console.login("agent_ma")
    response = console.post(LOOKUP, body)
    assert response.status_code == 422
    assert "100204821" not in response.text


def test_audit_log_is_for_supervisors_of_the_same_fund_only(console, other_console, demos):
    console.login("agent_ma")
    lookup(console, demos[f"{MA}:trader"].number)
    other_console.login("agent_dz")
    lookup(other_console, demos[f"{DZ}:trader"].number)
    assert console.get("/agent/api/audit").status_code == 403
    assert console.get("/agent/api/audit.csv").status_code == 403
    console.client.cookies.clear()
    console.login("sup_ma")
    rows = console.get("/agent/api/audit").json()["rows"]
    assert [(r["agent"], r["fund"]) for r in rows] == [("agent_ma", MA)]
    other_console.client.cookies.clear()
    other_console.login("sup_dz")
    assert [(r["agent"], r["fund"]) for r in other_console.get("/agent/api/audit").json()["rows"]] == [("agent_dz", DZ)]


def test_supervisors_filter_the_audit_log_and_export_it(console, demos, clock):
    console.login("agent_ma")
    trader, artisan = demos[f"{MA}:trader"].number, demos[f"{MA}:artisan"].number
    lookup(console, trader, reason="=HYPERLINK(\"x\")")
    clock.advance(2 * 86400)
    console.login("agent_ma")  # the session expired meanwhile
    lookup(console, artisan, check="callback_to_phone_on_file")
    console.client.cookies.clear()
    console.login("sup_ma")
    assert len(console.get("/agent/api/audit").json()["rows"]) == 2
    spaced = " ".join([artisan[:3], artisan[3:6], artisan[6:]])
    by_number = console.get("/agent/api/audit", params={"number": spaced}).json()["rows"]
    assert [r["identity_check"] for r in by_number] == ["callback_to_phone_on_file"]
    first_day = console.get("/agent/api/audit", params={"since": "2026-11-22", "until": "2026-11-22"}).json()["rows"]
    assert len(first_day) == 1
    assert console.get("/agent/api/audit", params={"agent": "agent_dz"}).json()["rows"] == []
    export = console.get("/agent/api/audit.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 2 and trader not in export.text
    assert rows[1]["reason"].startswith("'=")  # no formula runs when the export is opened


def test_no_route_edits_the_audit_log(console_app):
    methods = {method for path, ops in console_app.openapi()["paths"].items() if path.startswith("/agent/api/audit")
               for method in ops}
    assert methods == {"get"}


def test_identity_checks_are_the_affiliate_apis(console_app):
    from typing import get_args

    from backend.app.schemas import IdentityCheck

    assert IDENTITY_CHECKS == get_args(IdentityCheck)
