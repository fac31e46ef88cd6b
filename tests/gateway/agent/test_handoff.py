"""Live handoff (issue 17, items 1, 2 and 4) through the gateway's real routes: a web citizen on
the widget's WebSocket, agents on the console's API, Rasa a scripted stand-in. Into the inbox
(asked, or after two failures), opening hours, claiming (one winner, by the database, on SQLite
and PostgreSQL), replies both ways, hand-back and close, presence, masked transcripts."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import event, select

from bot.registry import registry

from gateway.app.agent.config import AgentSettings
from gateway.app.agent.db.migrate import upgrade
from gateway.app.agent.db.session import make_engine, make_sessionmaker
from gateway.app.agent.handoff import store
from gateway.app.agent.handoff.hours import OpeningHours
from gateway.app.agent.handoff.index import OPENED_TOPIC
from gateway.app.messages import MESSAGES
from gateway.app.agent.db.models import Account
from tests.gateway.agent.conftest import MA, Accounts, Console
from tests.gateway.stubs import clarify, faq_answer

# Monday 23 November 2026, 10:00 in Casablanca (UTC+1): CNSS agents at work (mon-fri 08:30-16:30).
OPEN_HOURS = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
EVENING = datetime(2026, 11, 23, 19, 30, tzinfo=timezone.utc)  # 20:30 in Casablanca
ACTION_HANDOFF_TEXT = "Je ne peux pas encore vous mettre en relation avec un conseiller. Appelez le 3939."
PERSONAL = ("100 204 821", "12/03/1980", "482913", "+212600000101")


def handoff_reply(lang: str = "fr") -> list[dict]:
    return [{"recipient_id": "x", "text": ACTION_HANDOFF_TEXT},
            {"recipient_id": "x", "custom": {"sanad": {"decision": "human_handoff", "lang": lang}}}]


def declined(lang: str = "fr") -> list[dict]:
    return [{"recipient_id": "x", "text": "Je ne peux pas répondre à cela."},
            {"recipient_id": "x", "custom": {"sanad": {"decision": "out_of_scope", "lang": lang}}}]


def citizen_script(sender, text, metadata):
    """The stand-in assistant: a person on request, declines the weather, answers the rest."""
    if text in ("/human_handoff", "je veux parler à un conseiller"):
        return handoff_reply()
    if "météo" in text:
        return declined()
    if text == "amo":
        return clarify()
    if text.startswith("écho "):  # an assistant that repeats the citizen's words
        return [{"recipient_id": "x", "text": f"Vous avez écrit : {text[5:]}"},
                {"recipient_id": "x", "custom": {"sanad": {"decision": "answer", "lang": "fr"}}}]
    return faq_answer()


class Citizen:
    """The widget's side of the protocol on the test client's WebSocket."""

    def __init__(self, client, fund: str = MA) -> None:
        self.client = client
        session = client.post("/api/session", json={"fund": fund}).json()
        self.token, self.conversation_id = session["token"], f"web:{session['session_id']}"
        self.ws = None
        self.seq = 0

    def __enter__(self) -> "Citizen":
        self.ws = self.client.websocket_connect("/ws").__enter__()
        self.ws.send_json({"type": "hello", "token": self.token})
        assert self.ws.receive_json()["type"] == "welcome"
        return self

    def __exit__(self, *exc) -> None:
        self.ws.__exit__(*exc)

    def say(self, text: str, button: bool = False) -> str:
        self.seq += 1
        client_id = f"msg-{self.seq:06d}"
        self.ws.send_json({"type": "message", "client_id": client_id, "text": text, "button": button})
        return client_id

    def until(self, kind: str, client_id: str | None = None) -> dict:
        while True:
            event = self.ws.receive_json()
            if event["type"] == kind and (client_id is None or event.get("client_id") == client_id):
                return event

    def ask(self, text: str, **kwargs) -> dict:
        client_id = self.say(text, **kwargs)
        while True:
            event = self.ws.receive_json()
            if event.get("client_id") == client_id and event["type"] in ("bot", "forwarded", "rejected"):
                return event


def eventually(check, timeout: float = 5.0):
    """The server notices a closed WebSocket a moment after the client closed it."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.02)


def texts(event: dict) -> list[str]:
    return [m["text"] for m in event["turn"]["messages"]]


@pytest.fixture
def agent(console: Console, clock) -> Console:
    clock.now = OPEN_HOURS
    console.login("agent_ma")
    return console


@pytest.fixture
def scripted(rasa_stub):
    rasa_stub.script = citizen_script
    return rasa_stub


def inbox(agent: Console) -> list[dict]:
    response = agent.get("/agent/api/inbox")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_asking_for_a_person_puts_the_conversation_in_the_inbox_with_its_place(agent, scripted):
    with Citizen(agent.client) as citizen:
        assert texts(citizen.ask("comment payer ?"))[0].startswith("Vous pouvez payer")
        event = citizen.ask("je veux parler à un conseiller")
    [text] = texts(event)
    assert text == MESSAGES["handoff_waiting"]["fr"].format(position=1, minutes=4)
    assert event["turn"]["sanad"]["handoff"] == {"open": True, "position": 1, "wait_minutes": 4, "status": "waiting"}
    [item] = inbox(agent)
    assert (item["channel"], item["lang"], item["reason"], item["status"]) == ("web", "fr", "asked", "waiting")
    transcript = agent.get(f"/agent/api/inbox/{item['id']}").json()["transcript"]
    assert [line["sender"] for line in transcript] == ["citizen", "assistant", "citizen", "system"]
    assert transcript[0]["text"] == "comment payer ?"


def test_a_second_citizen_is_told_they_are_second(agent, scripted):
    with Citizen(agent.client) as first, Citizen(agent.client) as second:
        first.ask("je veux parler à un conseiller")
        event = second.ask("je veux parler à un conseiller")
    assert event["turn"]["sanad"]["handoff"]["position"] == 2
    assert texts(event) == [MESSAGES["handoff_waiting"]["fr"].format(position=2, minutes=8)]


def test_two_failures_in_a_row_put_the_conversation_in_the_inbox(agent, scripted):
    with Citizen(agent.client) as citizen:
        first = citizen.ask("la météo demain ?")
        assert first["turn"]["sanad"]["decision"] == "out_of_scope" and "handoff" not in first["turn"]["sanad"]
        assert inbox(agent) == []
        second = citizen.ask("et la météo à Fès ?")
    assert texts(second)[0] == "Je ne peux pas répondre à cela."
    assert texts(second)[-1] == MESSAGES["handoff_waiting"]["fr"].format(position=1, minutes=4)
    assert second["turn"]["sanad"]["decision"] == "human_handoff"
    [item] = inbox(agent)
    assert item["reason"] == "failures"
    assert [t for _, t, _ in scripted.received][-1] == "/human_handoff"  # Rasa's own handoff rule ran


def test_an_unsettled_clarification_then_a_refusal_is_two_failures_an_answer_resets(agent, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask("amo")  # a clarification...
        assert "handoff" not in citizen.ask("comment payer ?")["turn"]["sanad"]  # ...settled by an answer
        citizen.ask("la météo ?")
        assert inbox(agent) == []
        citizen.ask("amo")  # offered choices, none taken:
        event = citizen.ask("la météo encore ?")
    assert event["turn"]["sanad"]["handoff"]["status"] == "waiting"
    assert inbox(agent)[0]["reason"] == "failures"


def test_claim_reply_forward_hand_back_and_the_assistant_answers_again(agent, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
        [item] = inbox(agent)
        assert agent.post(f"/agent/api/inbox/{item['id']}/claim").json() == {"claimed": True}
        claimed = citizen.until("handoff")
        assert claimed["status"] == "claimed" and claimed["text"] == MESSAGES["handoff_claimed"]["fr"]
        sent_to_rasa = len(scripted.received)
        assert citizen.ask("bonjour, j'ai une question sur ma retraite") == {
            "type": "forwarded", "client_id": f"msg-{citizen.seq:06d}"}
        assert len(scripted.received) == sent_to_rasa  # held: the assistant never saw it
        reply = agent.post(f"/agent/api/inbox/{item['id']}/reply", {"text": "Bonjour, je regarde votre dossier."})
        assert reply.status_code == 200, reply.text
        event = citizen.until("agent")
        assert event["text"] == "Bonjour, je regarde votre dossier." and event["id"].startswith("agent-")
        assert agent.post(f"/agent/api/inbox/{item['id']}/hand-back").json() == {"status": "returned"}
        back = citizen.until("handoff")
        assert back["status"] == "returned" and back["text"] == MESSAGES["handoff_returned"]["fr"]
        answered = citizen.ask("comment payer ?")
    assert answered["type"] == "bot" and texts(answered)[0].startswith("Vous pouvez payer")
    assert scripted.received[-1][1] == "comment payer ?"
    assert inbox(agent) == []
    transcript = agent.get(f"/agent/api/inbox/{item['id']}").json()["transcript"]
    assert [(line["sender"], line["author"]) for line in transcript][-4:] == [
        ("system", "agent_ma"), ("citizen", None), ("agent", "agent_ma"), ("system", None)]


def test_only_the_holder_replies_and_of_two_claims_one_wins(agent, other_console, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
    [item] = inbox(agent)
    agent.accounts.create("agent_ma_bis", MA)
    other_console.login("agent_ma_bis")
    assert agent.post(f"/agent/api/inbox/{item['id']}/claim").status_code == 200
    refused = other_console.post(f"/agent/api/inbox/{item['id']}/claim")
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "already_claimed"
    assert other_console.post(f"/agent/api/inbox/{item['id']}/reply", {"text": "moi aussi"}).status_code == 409
    assert other_console.post(f"/agent/api/inbox/{item['id']}/hand-back").status_code == 409


def test_another_funds_agent_sees_nothing_and_can_touch_nothing(agent, other_console, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
    [item] = inbox(agent)
    other_console.login("agent_dz")
    assert other_console.get("/agent/api/inbox").json()["items"] == []
    for path in ("", "/suggestions"):
        assert other_console.get(f"/agent/api/inbox/{item['id']}{path}").status_code == 404
    for path in ("/claim", "/hand-back"):
        assert other_console.post(f"/agent/api/inbox/{item['id']}{path}").status_code == 404


def test_close_with_an_outcome_from_the_fixed_list(agent, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
        [item] = inbox(agent)
        agent.post(f"/agent/api/inbox/{item['id']}/claim")
        citizen.until("handoff")
        assert agent.post(f"/agent/api/inbox/{item['id']}/close", {"outcome": "whatever"}).status_code == 422
        assert agent.post(f"/agent/api/inbox/{item['id']}/close", {"outcome": "resolved"}).json() == {"status": "closed"}
        ended = citizen.until("handoff")
        assert ended["status"] == "closed" and ended["text"] == MESSAGES["handoff_ended"]["fr"]
        assert citizen.ask("comment payer ?")["type"] == "bot"
    assert inbox(agent) == []


def test_outside_hours_the_citizen_is_told_and_the_request_waits_for_the_morning(agent, scripted, clock):
    clock.now = EVENING
    with Citizen(agent.client) as citizen:
        event = citizen.ask("je veux parler à un conseiller")
    [text] = texts(event)
    assert text.startswith(MESSAGES["handoff_closed"]["fr"].split("{")[0])
    assert "24/11/2026 à 08:30" in text and "3939" in text  # the next opening, the official channels
    assert event["turn"]["sanad"]["handoff"] == {"open": False, "position": 1, "status": "waiting"}
    clock.now = datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc)  # 09:00 in Casablanca, next morning
    agent.login("agent_ma")
    body = agent.get("/agent/api/inbox").json()
    assert body["open"] is True and [i["status"] for i in body["items"]] == ["waiting"]
    assert body["items"][0]["waiting_seconds"] == int((clock.now - EVENING).total_seconds())


def test_no_personal_data_in_any_transcript(agent, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask(f"mon numéro est {PERSONAL[0]}, né le {PERSONAL[1]}")
        citizen.ask("je veux parler à un conseiller")
        citizen.ask(f"le code reçu est {PERSONAL[2]}")  # while waiting
        [item] = inbox(agent)
        agent.post(f"/agent/api/inbox/{item['id']}/claim")
        citizen.ask(f"rappelez-moi au {PERSONAL[3]}")  # while held
        agent.post(f"/agent/api/inbox/{item['id']}/reply", {"text": f"Je note le {PERSONAL[3]}, merci."})
        assert PERSONAL[3] in citizen.until("agent")["text"]  # the citizen reads the agent as written
    body = agent.get(f"/agent/api/inbox/{item['id']}").text + agent.get("/agent/api/inbox").text
    digits = body.replace(" ", "").replace("/", "")
    for secret in PERSONAL:
        assert secret not in body and secret.replace(" ", "").replace("/", "") not in digits
    assert body.count("[…]") >= 4


def test_the_assistants_replies_before_the_handoff_are_masked_in_the_transcript(agent, scripted):
    """The desk keeps the assistant's recent replies as written and masks them where they are
    stored: an assistant that repeated a number leaves no number in the agent's transcript."""
    with Citizen(agent.client) as citizen:
        citizen.ask(f"écho mon numéro est {PERSONAL[0]} et mon téléphone {PERSONAL[3]}")
        citizen.ask("je veux parler à un conseiller")
        [item] = inbox(agent)
    body = agent.get(f"/agent/api/inbox/{item['id']}").text
    assert "Vous avez écrit" in body  # the assistant's line is in the transcript
    for secret in (PERSONAL[0], PERSONAL[3]):
        assert secret not in body and secret.replace(" ", "") not in body.replace(" ", "")


def test_a_widget_that_was_away_gets_the_missed_replies_once(agent, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
        [item] = inbox(agent)
        agent.post(f"/agent/api/inbox/{item['id']}/claim")
        claimed = citizen.until("handoff")
        citizen.ws.send_json({"type": "ack", "id": claimed["id"]})
    eventually(lambda: inbox(agent)[0]["left_at"] is not None)  # the widget closed
    for text in ("Premier message.", "Second message."):
        agent.post(f"/agent/api/inbox/{item['id']}/reply", {"text": text})
    back = Citizen(agent.client)
    back.token = citizen.token
    with back:
        missed = [back.until("agent"), back.until("agent")]
        assert [e["text"] for e in missed] == ["Premier message.", "Second message."]
        assert all(e.get("replay") for e in missed)
        for event in missed:
            back.ws.send_json({"type": "ack", "id": event["id"]})
        back.ws.send_json({"type": "ping"})
        assert back.until("pong") == {"type": "pong"}
    eventually(lambda: inbox(agent)[0]["left_at"] is not None)
    again = Citizen(agent.client)
    again.token = citizen.token
    with again:
        again.ws.send_json({"type": "ping"})
        assert again.ws.receive_json() == {"type": "pong"}  # acknowledged: not sent again


def test_a_waiting_citizen_gone_for_long_is_shown_as_gone(agent, scripted, clock):
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
        assert inbox(agent)[0]["gone"] is False and inbox(agent)[0]["left_at"] is None
    eventually(lambda: inbox(agent)[0]["left_at"] is not None)
    assert inbox(agent)[0]["gone"] is False  # just left
    clock.advance(121)
    agent.login("agent_ma")
    assert inbox(agent)[0]["gone"] is True
    again = Citizen(agent.client)
    again.token = citizen.token
    with again:
        again.ws.send_json({"type": "ping"})
        again.until("pong")
        assert inbox(agent)[0]["left_at"] is None and inbox(agent)[0]["gone"] is False


def test_suggestions_come_from_the_citizens_last_messages(agent, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask("comment payer mes cotisations ?")
        citizen.ask("je veux parler à un conseiller")
    [item] = inbox(agent)
    body = agent.get(f"/agent/api/inbox/{item['id']}/suggestions").json()
    assert body["entries"] and body["ranking_id"]
    asked = scripted.assisted[-1]
    assert asked[0] == "comment payer mes cotisations ? je veux parler à un conseiller" and asked[1] == MA


def test_a_balance_look_up_started_while_waiting_is_stopped_at_hand_back(agent, scripted):
    def script(sender, text, metadata):
        if text == "mon solde":
            return [{"recipient_id": "x", "text": "Votre numéro d'affiliation ?"},
                    {"recipient_id": "x", "custom": {"sanad": {"decision": "account_balance", "lang": "fr",
                                                               "step": "affiliate_number"}}}]
        if text == "/cancel":
            return [{"recipient_id": "x", "text": "Consultation annulée."},
                    {"recipient_id": "x", "custom": {"sanad": {"decision": "cancel", "lang": "fr"}}}]
        return citizen_script(sender, text, metadata)

    scripted.script = script
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
        citizen.ask("mon solde")  # while waiting, the assistant still answers: the form opens
        [item] = inbox(agent)
        agent.post(f"/agent/api/inbox/{item['id']}/claim")
        citizen.until("handoff")
        agent.post(f"/agent/api/inbox/{item['id']}/hand-back")
        back = citizen.until("handoff")
    assert back["text"] == f"{MESSAGES['handoff_returned']['fr']} {MESSAGES['handoff_balance_stopped']['fr']}"
    assert scripted.received[-1][1] == "/cancel"  # through Rasa's own cancel rule


def test_opening_hours_in_the_funds_time_zone():
    hours = OpeningHours("mon-fri 08:30-16:30", "Africa/Casablanca")
    assert hours.is_open(OPEN_HOURS) and not hours.is_open(EVENING)
    assert hours.next_opening(EVENING).isoformat() == "2026-11-24T08:30:00+01:00"
    friday_night = datetime(2026, 11, 27, 20, 0, tzinfo=timezone.utc)
    assert hours.next_opening(friday_night).isoformat() == "2026-11-30T08:30:00+01:00"  # Monday
    algiers = OpeningHours("sat-thu 08:00-16:00", "Africa/Algiers")
    assert not algiers.is_open(datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc))  # Friday
    assert algiers.is_open(datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc))  # Saturday 10:00
    with pytest.raises(ValueError):
        OpeningHours("lun-ven 8h-17h", "Africa/Casablanca")


def test_each_funds_hours_are_read_in_the_time_zone_of_registry_yml(agent):
    hours = agent.client.app.state.relay.desk.hours
    assert {fund: str(spec.zone) for fund, spec in hours.items()} == {
        fund: registry().fund(fund).time_zone for fund in hours}
    assert str(hours["casnos_dz"].zone) == "Africa/Algiers"


def test_opening_hours_naming_a_fund_the_registry_does_not_know_are_refused():
    with pytest.raises(ValidationError, match="not in registry.yml: cnss_mq"):
        AgentSettings(HANDOFF_HOURS='{"cnss_mq": "mon-fri 08:30-16:30"}')
    with pytest.raises(ValidationError, match="JSON object"):
        AgentSettings(HANDOFF_HOURS='["mon-fri 08:30-16:30"]')


# --- the index of open handoffs: the relay's question before each turn, from memory (issue 18) -------

def handoff_queries(engine) -> list[str]:
    """The SQL statements that read or write the handoffs table, from now on."""
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: seen.append(statement) if "handoffs" in statement else None)
    return seen


def test_turns_with_no_handoff_open_ask_the_database_once_not_every_turn(agent, scripted):
    queries = handoff_queries(agent.client.app.state.agent.engine)
    with Citizen(agent.client) as citizen:
        for question in ("comment payer ?", "et la retraite ?", "amo", "comment payer ?"):
            assert citizen.ask(question)["type"] == "bot"
    assert len(queries) == 1  # the list of open handoffs, read at the first turn
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
        [item] = inbox(agent)
        agent.post(f"/agent/api/inbox/{item['id']}/claim")
        citizen.until("handoff")
        assert citizen.ask("vous êtes là ?")["type"] == "forwarded"  # known at once in its own process


def agent_ma_id(db) -> int:
    return db.scalars(select(Account.id).where(Account.name == "agent_ma")).one()


def claimed_elsewhere(agent: Console, conversation_id: str) -> None:
    """A handoff opened and claimed by another gateway process: in the shared database only."""
    with agent.client.app.state.agent.db() as db:
        handoff, _ = store.open_handoff(db, fund=MA, channel="web", conversation_id=conversation_id, lang="fr",
                                        reason="asked", now=OPEN_HOURS, history=[])
        assert store.claim(db, handoff.id, MA, agent_ma_id(db), OPEN_HOURS)


def test_a_handoff_another_process_opens_is_heard_on_the_bus_and_holds_here(agent, scripted):
    desk = agent.client.app.state.agent.desk
    with Citizen(agent.client) as citizen:
        assert citizen.ask("comment payer ?")["type"] == "bot"
        claimed_elsewhere(agent, citizen.conversation_id)
        agent.client.portal.call(desk.bus.publish, OPENED_TOPIC, {"channel": "web", "conversation_id": citizen.conversation_id})
        eventually(lambda: desk.open_index.listed)
        assert citizen.ask("bonjour ?")["type"] == "forwarded"


def test_without_the_bus_event_the_list_read_again_finds_the_handoff(agent, scripted):
    desk = agent.client.app.state.agent.desk
    now = [0.0]
    desk.open_index.clock = lambda: now[0]
    with Citizen(agent.client) as citizen:
        assert citizen.ask("comment payer ?")["type"] == "bot"
        claimed_elsewhere(agent, citizen.conversation_id)  # and its event was lost
        now[0] += agent.client.app.state.agent.settings.HANDOFF_INDEX_REFRESH_SECONDS
        assert citizen.ask("bonjour ?")["type"] == "forwarded"


def test_a_handoff_ended_elsewhere_leaves_the_list_and_the_assistant_answers(agent, scripted):
    with Citizen(agent.client) as citizen:
        citizen.ask("je veux parler à un conseiller")
        [item] = inbox(agent)
        with agent.client.app.state.agent.db() as db:  # closed by another process
            agent_id = agent_ma_id(db)
            assert store.claim(db, item["id"], MA, agent_id, OPEN_HOURS)
            assert store.close(db, item["id"], MA, agent_id, "resolved", OPEN_HOURS)
        assert citizen.ask("comment payer ?")["type"] == "bot"
    assert agent.client.app.state.agent.desk.open_index.listed == set()


# --- two agents claiming at once, decided by the database ------------------------------------------

def test_two_agents_claiming_at_once_exactly_one_wins(any_database_url):
    upgrade(any_database_url)
    engine = make_engine(any_database_url)
    sessions = make_sessionmaker(engine)
    try:
        accounts = Accounts(any_database_url, {})
        accounts.create("first", MA)
        accounts.create("second", MA)
        with sessions() as db:
            ids = [db.query(Account).filter_by(name=name).one().id for name in ("first", "second")]
        now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
        for round_ in range(20):
            with sessions() as db:
                handoff, _ = store.open_handoff(db, fund=MA, channel="web", conversation_id=f"web:race-{round_}",
                                                lang="fr", reason="asked", now=now, history=[])
                handoff_id = handoff.id
            barrier = threading.Barrier(2)
            results: dict[int, bool] = {}

            def claim(agent_id: int) -> None:
                with sessions() as db:
                    barrier.wait()
                    results[agent_id] = store.claim(db, handoff_id, MA, agent_id, now + timedelta(seconds=1))

            threads = [threading.Thread(target=claim, args=(agent_id,)) for agent_id in ids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            assert sorted(results.values()) == [False, True], results
            with sessions() as db:
                holder = db.get(store.Handoff, handoff_id).agent_id
            assert results[holder] is True
    finally:
        engine.dispose()


def test_one_open_handoff_per_conversation_even_when_opened_twice_at_once(any_database_url):
    upgrade(any_database_url)
    engine = make_engine(any_database_url)
    sessions = make_sessionmaker(engine)
    now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    barrier = threading.Barrier(2)
    opened = []

    def open_one() -> None:
        with sessions() as db:
            barrier.wait()
            handoff, created = store.open_handoff(db, fund=MA, channel="web", conversation_id="web:twice",
                                                  lang="fr", reason="asked", now=now, history=[("citizen", "x")])
            opened.append((handoff.id, created))

    try:
        threads = [threading.Thread(target=open_one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len({handoff_id for handoff_id, _ in opened}) == 1 and sorted(c for _, c in opened) == [False, True]
    finally:
        engine.dispose()
