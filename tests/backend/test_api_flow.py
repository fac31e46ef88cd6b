"""The verification flow and the balance, on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.both_databases


def test_success_from_number_to_balance_through_the_sms_outbox(api, demos, settings):
    demo = demos["cnss_ma:trader"]
    started = api.start(demo)
    assert started.status_code == 201
    body = started.json()
    assert body["status"] == "code_sent"
    assert body["expires_in"] == settings.OTP_TTL_SECONDS
    code = api.code_sent_to(demo)
    assert code is not None and len(code) == 6 and code.isdigit()

    confirmed = api.confirm(body["verification_id"], code)
    assert confirmed.status_code == 200
    assert confirmed.json()["expires_in"] == settings.TOKEN_TTL_SECONDS

    balance = api.balance(confirmed.json()["token"])
    assert balance.status_code == 200
    assert balance.json() == {
        "fund": "cnss_ma", "affiliate_ref": "•••••4821", "currency": "MAD",
        "contributions_due": [], "penalties_due": "0.00", "total_due": "0.00",
        "last_payment": {"date": "2026-10-20", "amount": "191.10"},
        "next_deadline": {"date": "2026-11-30", "amount": "191.10"},
        "instalment_plan": None,
        "health_rights": {"open": True, "since": "2022-02-01", "reason": None},
    }


@pytest.mark.parametrize("typed", ["100 204 821", "100-204-821", " 100204821 ", "١٠٠٢٠٤٨٢١", "100 – 204 821"])
def test_affiliate_number_is_normalised(api, demos, typed):
    demo = demos["cnss_ma:trader"]
    assert api.start(typed, demo.birth_date.isoformat(), fund="cnss_ma").status_code == 201


def test_unknown_number_wrong_birth_date_and_wrong_fund_look_the_same(api, demos, settings):
    demo = demos["cnss_ma:trader"]
    other_fund = demos["casnos_dz:trader"]
    responses = [
        api.start("100999999", demo.birth_date.isoformat(), fund="cnss_ma", conversation="a"),  # unknown
        api.start(demo, "1980-03-13", conversation="b"),                                      # birth date
        api.start(other_fund.number, other_fund.birth_date.isoformat(), fund="cnss_ma",       # other fund
                  conversation="c"),
    ]
    for response in responses:
        assert response.status_code == 403
        assert response.json() == {"detail": {"code": "identity_not_verified"}}
    assert len({response.content for response in responses}) == 1
    assert len({tuple(sorted(response.headers.items())) for response in responses}) == 1
    assert api.code_sent_to(demo) is None and api.code_sent_to(other_fund) is None


def test_wrong_code_counts_down_then_locks(api, demos):
    demo = demos["cnss_ma:artisan"]
    verification_id = api.start(demo).json()["verification_id"]
    wrong = api.wrong(api.code_sent_to(demo))
    assert [api.confirm(verification_id, wrong).json() for _ in range(3)] == [
        {"detail": {"code": "invalid_code", "attempts_left": 2}},
        {"detail": {"code": "invalid_code", "attempts_left": 1}},
        {"detail": {"code": "invalid_code", "attempts_left": 0}},
    ]
    locked = api.confirm(verification_id, api.code_sent_to(demo))  # even the right code, now
    assert locked.status_code == 423
    assert locked.json() == {"detail": {"code": "locked", "retry_after": 900}}


def test_challenge_expires(api, demos, clock, settings):
    demo = demos["cnss_ma:farmer"]
    verification_id = api.start(demo).json()["verification_id"]
    clock.advance(settings.OTP_TTL_SECONDS)
    response = api.confirm(verification_id, api.code_sent_to(demo))
    assert response.status_code == 410
    assert response.json() == {"detail": {"code": "expired"}}


def test_code_is_single_use_and_only_the_newest_counts(api, demos):
    demo = demos["cnss_ma:doctor"]
    first = api.start(demo).json()["verification_id"]
    first_code = api.code_sent_to(demo)
    second = api.start(demo).json()["verification_id"]
    assert api.confirm(first, first_code).status_code == 410  # replaced by the second
    second_code = api.code_sent_to(demo)
    assert api.confirm(second, second_code).status_code == 200
    assert api.confirm(second, second_code).status_code == 410  # used


def test_token_expires(api, demos, clock, settings):
    token = api.verify(demos["casnos_dz:trader"])
    clock.advance(settings.TOKEN_TTL_SECONDS - 1)
    assert api.balance(token).status_code == 200
    clock.advance(1)
    response = api.balance(token)
    assert response.status_code == 401
    assert response.json() == {"detail": {"code": "token_expired"}}


@pytest.mark.parametrize("token", [None, "", "not-a-token", "x" * 2000])
def test_missing_or_unknown_token_is_refused(api, token):
    response = api.balance(token)
    assert response.status_code == 401
    assert response.json() == {"detail": {"code": "invalid_token"}}


def test_token_is_bound_to_its_affiliate(api, demos):
    moroccan, algerian = demos["cnss_ma:artisan"], demos["casnos_dz:farmer"]
    first = api.verify(moroccan, conversation="one")
    second = api.verify(algerian, conversation="two")
    assert api.balance(first).json()["affiliate_ref"] == "•••••7356"
    assert api.balance(second).json()["affiliate_ref"] == "•••••8353"


@pytest.mark.parametrize("fund_demo, shared", [
    ("cnss_ma:trader", "+212600000101"), ("cnss_ma:trader", "212600000101"),
    ("cnss_ma:trader", "00212 600 00 01 01"), ("cnss_ma:trader", "0600-00-01-01"),
    ("casnos_dz:doctor", "+213 550 00 02 04"), ("casnos_dz:doctor", "0550000204"),
    ("casnos_dz:doctor", "٠٥٥٠٠٠٠٢٠٤"),
])
def test_confirm_phone_accepts_the_phone_on_file_in_any_usual_form(api, demos, fund_demo, shared):
    demo = demos[fund_demo]
    verification_id = api.start(demo).json()["verification_id"]
    response = api.confirm_phone(verification_id, shared)
    assert response.status_code == 200, response.text
    assert api.balance(response.json()["token"]).status_code == 200


@pytest.mark.parametrize("shared", ["+212600000102", "+213600000101", "0600000199", "600000101",
                                    "+2126000001011"])
def test_confirm_phone_refuses_another_phone_like_a_wrong_code(api, demos, shared):
    demo = demos["cnss_ma:trader"]
    verification_id = api.start(demo).json()["verification_id"]
    response = api.confirm_phone(verification_id, shared)
    assert response.status_code == 403
    assert response.json() == {"detail": {"code": "invalid_code", "attempts_left": 2}}


def test_unknown_verification_is_404(api):
    response = api.confirm("AAAAAAAAAAAAAAAAAAAAAA", "123456")
    assert response.status_code == 404
    assert response.json() == {"detail": {"code": "not_found"}}
    assert api.confirm_phone("AAAAAAAAAAAAAAAAAAAAAA", "+212600000101").status_code == 404


def test_balances_of_each_situation(api, demos):
    arrears = api.balance(api.verify(demos["cnss_ma:artisan"], "a")).json()
    assert arrears["contributions_due"] == [{"period": p, "amount": "135.00"}
                                            for p in ("2026-06", "2026-07", "2026-08", "2026-09")]
    assert (arrears["penalties_due"], arrears["total_due"]) == ("37.80", "577.80")
    assert arrears["health_rights"] == {"open": False, "since": None, "reason": "contributions_unpaid"}

    plan = api.balance(api.verify(demos["cnss_ma:farmer"], "b")).json()
    assert plan["instalment_plan"] == {"instalments_left": 2, "next_instalment_date": "2026-12-15",
                                       "amount": "254.80"}
    assert plan["total_due"] == "509.60" and plan["health_rights"]["open"] is True

    newcomer = api.balance(api.verify(demos["cnss_ma:taxi_driver"], "c")).json()
    assert newcomer["health_rights"] == {"open": False, "since": None, "reason": "waiting_period"}

    casnos = api.balance(api.verify(demos["casnos_dz:farmer"], "d")).json()
    assert casnos["currency"] == "DZD"
    assert casnos["contributions_due"] == [{"period": "2025", "amount": "32400.00"},
                                           {"period": "2026", "amount": "32400.00"}]
    assert (casnos["penalties_due"], casnos["total_due"]) == ("9720.00", "74520.00")
    assert casnos["next_deadline"] == {"date": "2027-09-30", "amount": "32400.00"}

    first_year = api.balance(api.verify(demos["casnos_dz:doctor"], "e")).json()
    assert first_year["last_payment"] is None
    assert first_year["health_rights"]["reason"] == "first_contribution_pending"


class BrokenGateway:
    def send(self, to: str, text: str) -> None:
        raise ConnectionError(f"gateway refused {to}: {text}")


def test_sms_failure_is_a_clear_503_and_leaves_no_usable_code(api, app, demos, caplog):
    demo = demos["cnss_ma:trader"]
    app.state.sms_sender = BrokenGateway()
    response = api.start(demo)
    assert response.status_code == 503
    assert response.json() == {"detail": {"code": "sms_unavailable"}}
    assert demo.phone not in caplog.text and "ConnectionError" in caplog.text
    with app.state.sessionmaker() as session:
        from backend.app.db.models import Verification

        assert {v.status for v in session.query(Verification)} == {"burnt"}
