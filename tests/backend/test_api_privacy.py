"""No log line and no answer carries an affiliate number, birth date, phone or code."""
from __future__ import annotations

import json
import logging
import os
import stat


def personal_values(demo, code):
    number = demo.number
    spaced = " ".join(number[i:i + 3] for i in range(0, len(number), 3))
    national = "0" + demo.phone[4:]
    return [number, spaced, demo.birth_date.isoformat(), demo.birth_date.strftime("%d/%m/%Y"),
            demo.phone, demo.phone.lstrip("+"), national, code]


def test_logs_never_carry_personal_data(api, demos, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: every logger propagates here
    for name in ("sqlalchemy", "sqlalchemy.engine", "alembic", "httpx", "sanad", "uvicorn", "fastapi"):
        caplog.set_level(logging.DEBUG, logger=name)
    demo = demos["cnss_ma:trader"]

    assert api.start(demo, "1980-12-03").status_code == 403  # a failure
    spaced = " ".join([demo.number[:3], demo.number[3:6], demo.number[6:]])
    assert api.start(spaced, "not-a-date").status_code == 422
    verification_id = api.start(demo).json()["verification_id"]
    code = api.code_sent_to(demo)
    assert api.confirm(verification_id, api.wrong(code)).status_code == 403
    token = api.confirm(verification_id, code).json()["token"]
    assert api.balance(token).status_code == 200
    second = api.start(demo).json()["verification_id"]
    assert api.confirm_phone(second, "0600000999").status_code == 403
    assert api.confirm_phone(second, "0" + demo.phone[4:]).status_code == 200

    assert caplog.records, "the flow should have logged something (else this test proves nothing)"
    assert any(record.name.startswith("sqlalchemy.engine") for record in caplog.records)
    everything = caplog.text + "\n".join(
        f"{record.getMessage()} {record.args!r} {_content_of(record)!r}" for record in caplog.records)
    for value in personal_values(demo, code) + [api.code_sent_to(demo), token]:
        assert value not in everything, f"a log record carries {value!r}"


# What the logging module sets on every record by itself: times and ids, never our content (a
# six-digit code could be found by chance in the digits of a timestamp: 1796621611.1910443).
_LOGGING_OWN_FIELDS = ("created", "msecs", "relativeCreated", "thread", "threadName", "process",
                       "processName", "taskName", "lineno")


def _content_of(record: logging.LogRecord) -> dict:
    return {key: value for key, value in record.__dict__.items() if key not in _LOGGING_OWN_FIELDS}


def test_answers_never_echo_personal_data(api, client, demos, auth):
    demo = demos["casnos_dz:farmer"]
    formatted = f"{demo.number[:4]} {demo.number[4:8]} {demo.number[8:]}"
    answers = [
        api.start(demo, "1965-08-22"),
        api.start(formatted, "21/08/1965", fund="casnos_dz"),            # 422: invalid date
        api.start(formatted, "1965-08-21", fund="nowhere"),              # 422: unknown fund
        client.post("/v1/verifications", json={"fund": "casnos_dz", "affiliate_number": formatted + "x",
                                               "birth_date": 19650821, "conversation_id": ""}, headers=auth),
    ]
    verification_id = api.start(demo).json()["verification_id"]
    code = api.code_sent_to(demo)
    answers += [
        api.confirm(verification_id, "12345"),                            # 422
        api.confirm_phone(verification_id, demo.phone + "abc"),            # 422
        api.confirm_phone(verification_id, "+213550000999"),
        api.confirm(verification_id, code),
    ]
    token = answers[-1].json()["token"]
    answers.append(api.balance(token))
    assert [answer.status_code for answer in answers] == [403, 422, 422, 422, 422, 422, 403, 200, 200]
    text = "\n".join(answer.text for answer in answers)
    for value in personal_values(demo, code) + [formatted, "21/08/1965", "19650821", "550000999"]:
        assert value not in text, f"an answer carries {value!r}"


def test_affiliate_reference_is_masked(api, demos):
    for index, demo in enumerate(demos.values()):
        reference = api.balance(api.verify(demo, conversation=f"c{index}")).json()["affiliate_ref"]
        assert reference == "•••••" + demo.number[-4:]
        assert demo.number[:-4] not in reference


def test_outbox_message_is_private_json(api, demos, settings):
    demo = demos["cnss_ma:doctor"]
    api.start(demo)
    [path] = sorted(settings.SMS_OUTBOX_DIR.glob("*.json"))
    message = json.loads(path.read_text(encoding="utf-8"))
    assert set(message) == {"to", "text", "sent_at"}
    assert message["to"] == demo.phone
    assert api.code_sent_to(demo) in message["text"]
    assert message["sent_at"].startswith("2026-11-22T09:00:00")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
