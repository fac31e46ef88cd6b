"""A turn's storage cost does not grow with the conversation, and redaction stays whole.

The redacting store once redacted and rebuilt the whole tracker on every save (4 ms at 25 turns,
46 ms at 250): these tests hold a 250-turn conversation, saved turn by turn as Rasa does
(retrieve, add the turn's events, save), to what is stored and to the work each save costs."""
import json
import sqlite3
import statistics
import time

import pytest
from rasa.core.tracker_store import InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, Event, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import paths
from bot.redaction import REDACTED, RedactingTrackerStore, redact_events

NUMBER, BIRTH, CODE, PHONE = "100204821", "12/03/1980", "482913", "+212600000101"
TURNS = 250


def _faq_turn(i):
    text = f"question {i}: ou payer la cnss ?" if i % 7 else f"mon numero est {NUMBER}, je dois combien ?"
    parse = {"text": text, "intent": {"name": "faq_payment", "confidence": 0.9},
             "intent_ranking": [{"name": f"faq_{k}", "confidence": 0.1} for k in range(10)], "entities": []}
    return [UserUttered(text, {"name": "faq_payment"}, parse_data=parse), SlotSet("topic", "payment"),
            ActionExecuted("action_answer_faq"), BotUttered(f"Réponse {i}, mise à jour le 31 décembre 2024."),
            ActionExecuted("action_listen")]


def _form_turns():
    """A balance look-up over four turns: the form asks for a slot in one turn (one save) and
    the citizen's answer comes in the next, so the form's state must carry across saves."""
    ask = lambda slot: [SlotSet("requested_slot", slot), BotUttered(f"votre {slot} ?"), ActionExecuted("action_listen")]
    return [
        [UserUttered("je veux mon solde", {"name": "account_balance"}), ActionExecuted("balance_form"),
         ActiveLoop("balance_form"), *ask("affiliate_number")],
        [UserUttered(f"c'est {NUMBER}", {"name": "inform"}, parse_data={"text": f"c'est {NUMBER}"}),
         SlotSet("affiliate_number", "ref:abc"), *ask("birth_date")],
        [UserUttered(BIRTH, {"name": "inform"}), SlotSet("birth_date", BIRTH), *ask("otp_code")],
        [UserUttered(CODE, {"name": "inform"}, metadata={"shared_phone": PHONE}), SlotSet("otp_code", CODE),
         ActiveLoop(None), SlotSet("requested_slot", None), BotUttered("Compte •••••4821 : 382,20 DH"),
         ActionExecuted("action_listen")],
    ]


def _turns():
    turns, i = [], 0
    while len(turns) < TURNS:
        turns.extend(_form_turns() if i % 50 == 10 else [_faq_turn(i)])
        i += 1
    return turns[:TURNS]


async def _converse(store, turns):
    """Each turn as Rasa does it: retrieve, add the turn's events, save. Returns what each save
    cost (events redacted, seconds) and the original (unredacted) events in order."""
    tracker = await store.get_or_create_tracker("citizen")
    originals = list(tracker.events)
    costs = []
    for turn in turns:
        tracker = await store.retrieve("citizen")
        for event in turn:
            tracker.update(event)
        originals.extend(turn)
        before, started = store.events_redacted, time.perf_counter()
        await store.save(tracker)
        costs.append((store.events_redacted - before, time.perf_counter() - started))
    return costs, originals


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(paths.DOMAIN))


@pytest.fixture(scope="module")
def long_conversation(domain, tmp_path_factory):
    import asyncio

    db = tmp_path_factory.mktemp("cost") / "t.db"
    store = RedactingTrackerStore(domain=domain, store={"type": "SQL", "dialect": "sqlite", "db": str(db)})
    costs, originals = asyncio.run(_converse(store, _turns()))
    with sqlite3.connect(db) as connection:
        stored = [json.loads(row[0]) for row in connection.execute("SELECT data FROM events ORDER BY id")]
    return costs, originals, stored, db


def test_every_stored_event_of_a_long_conversation_is_redacted(long_conversation):
    """Saved turn by turn, the store holds exactly what redacting the whole conversation at once
    gives: the form's state carried from one save to the next."""
    _, originals, stored, db = long_conversation
    assert len(stored) == len(originals)
    assert stored == redact_events(e.as_dict() for e in originals)
    raw = db.read_bytes().decode("utf-8", "ignore")
    for secret in (NUMBER, BIRTH, CODE, PHONE):
        assert secret not in raw
    answers = [e["text"] for e, o in zip(stored, originals) if isinstance(o, UserUttered) and o.text in (BIRTH, CODE)]
    assert answers and set(answers) == {REDACTED}  # typed at a sensitive step: gone whole
    texts = [e.get("text") for e in stored]
    assert "je veux mon solde" in texts and "Réponse 9, mise à jour le 31 décembre 2024." in texts  # the rest is kept


def test_a_save_redacts_only_the_turns_new_events(long_conversation):
    costs, _, _, _ = long_conversation
    turns = _turns()
    for index in (24, 124, TURNS - 1):  # turns 25, 125 and 250
        assert costs[index][0] == len(turns[index]), f"turn {index + 1} redacted {costs[index][0]} events"
    assert sum(c[0] for c in costs) == sum(len(t) for t in turns)


def test_save_time_at_turn_250_is_not_ten_times_turn_25(long_conversation):
    """Wall-clock, so with a generous bound (before: 11x; now about 2x, from the growing SQL
    count Rasa's store makes before appending)."""
    costs, _, _, _ = long_conversation
    early = statistics.median(c[1] for c in costs[14:25])
    late = statistics.median(c[1] for c in costs[TURNS - 11:])
    assert late < 5 * early, f"save at turn 250: {late * 1000:.1f} ms, at turn 25: {early * 1000:.1f} ms"


async def test_in_memory_store_gets_every_event_redacted(domain):
    store = RedactingTrackerStore(domain=domain)
    assert isinstance(store.inner, InMemoryTrackerStore)
    tracker = DialogueStateTracker.from_events("citizen", [SessionStarted(), *sum(_form_turns(), [])], domain.slots)
    await store.save(tracker)
    assert NUMBER not in store.inner.store["citizen"] and CODE not in store.inner.store["citizen"]
    assert store.events_redacted == len(tracker.events)  # this store writes them all, every time
    # the live tracker (what the rest of the turn reads) is untouched
    assert CODE in [e.text for e in tracker.events if isinstance(e, UserUttered)]


class _StateWritingStore(TrackerStore):
    """A store that writes the tracker's state (as DynamoDB's does), not only its events."""

    def __init__(self, domain=None, **kwargs):
        super().__init__(domain)
        self.saved = None

    async def save(self, tracker):
        self.saved = json.dumps(tracker.current_state(), ensure_ascii=False)


async def test_a_store_writing_the_trackers_state_gets_the_whole_tracker_redacted(domain):
    inner = _StateWritingStore(domain)
    store = RedactingTrackerStore(domain=domain)
    store.inner = inner
    events = [SessionStarted(), *sum(_form_turns()[:3], [])]
    await store.save(DialogueStateTracker.from_events("citizen", events, domain.slots))
    assert BIRTH not in inner.saved and NUMBER not in inner.saved


def test_reading_a_conversation_back_does_not_walk_the_event_classes(monkeypatch):
    """Rasa looks an event's class up by walking every subclass of Event for each stored event;
    the store's module remembers each type name's class once per process."""
    import rasa.shared.utils.common as common

    events = [e.as_dict() for turn in _turns()[:40] for e in turn]
    Event.from_parameters(events[0])  # the first look-up of each type may walk
    for kind in {e["event"] for e in events}:
        Event.resolve_by_type(kind)
    walks = []
    walk = common.all_subclasses
    monkeypatch.setattr(common, "all_subclasses", lambda cls: walks.append(cls) or walk(cls))
    restored = [Event.from_parameters(e) for e in events]
    assert [e.as_dict() for e in restored] == events
    assert walks == []
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet


async def test_the_sql_commit_runs_off_the_event_loop(domain, tmp_path):
    """Rasa's SQL store is synchronous: its commit (fsyncs on SQLite) would hold every other
    conversation's turn; it runs in a worker thread, awaited, so the turn still ends after it."""
    import threading

    store = RedactingTrackerStore(domain=domain, store={"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "t.db")})
    threads = []
    count = store.inner._additional_events
    store.inner._additional_events = lambda *args: threads.append(threading.get_ident()) or count(*args)
    tracker = DialogueStateTracker.from_events("citizen", [SessionStarted(), *_faq_turn(1)], domain.slots)
    await store.save(tracker)
    assert threads and threading.get_ident() not in threads
    assert len((await store.retrieve("citizen")).events) == len(tracker.events)  # written when save returns


# ---- a long conversation is read back with its whole state and only its recent events ----------

async def test_a_long_conversation_is_read_back_with_its_state_and_its_recent_events(long_conversation, domain):
    """What a turn replays (the policies' states, the tracker sent to the action server) stays
    the size of the last RECENT_MESSAGES messages; the slots, the form and the latest message are
    still those of the whole conversation, and the next save appends after every stored event."""
    from rasa.core.tracker_store import SQLTrackerStore

    from bot.redaction import RECENT_MESSAGES, STORED_BEFORE

    _, originals, stored, db = long_conversation
    store = RedactingTrackerStore(domain=domain, store={"type": "SQL", "dialect": "sqlite", "db": str(db)})
    ours = await store.retrieve("citizen")
    whole = await SQLTrackerStore.retrieve(store.inner, "citizen")
    assert len(whole.events) == len(stored) > 1000
    users = [e for e in ours.events if isinstance(e, UserUttered)]
    assert RECENT_MESSAGES <= len(users) <= RECENT_MESSAGES + 1
    assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in whole.events][-len(ours.events):]
    assert getattr(ours, STORED_BEFORE) == len(whole.events) - len(ours.events)
    assert ours.current_slot_values() == whole.current_slot_values()
    assert ours.latest_message.as_dict() == whole.latest_message.as_dict()
    assert ours.active_loop == whole.active_loop and ours.latest_action == whole.latest_action


def _in_form_turn(i):
    return [UserUttered(f"je sais pas {i}", {"name": "inform"}), SlotSet("requested_slot", "affiliate_number"),
            BotUttered("votre numero ?"), ActionExecuted("action_listen")]


async def test_the_recent_events_never_start_inside_a_form(domain, tmp_path):
    """A citizen stuck in the balance form for more than RECENT_MESSAGES messages: the events
    read back still start before the form did, so the rules see it active and its answers are
    still redacted whole on the next saves."""
    from bot.redaction import RECENT_MESSAGES

    store = RedactingTrackerStore(domain=domain, store={"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "t.db")})
    turns = [_faq_turn(i) for i in range(1, 15)] + [_form_turns()[0]] + [
        _in_form_turn(i) for i in range(RECENT_MESSAGES + 3)]
    await _converse(store, turns)
    tracker = await store.retrieve("citizen")
    assert tracker.active_loop_name == "balance_form"
    assert any(isinstance(e, ActiveLoop) and e.name == "balance_form" for e in tracker.events)
    tracker.update(UserUttered(CODE, {"name": "inform"}))
    await store.save(tracker)
    with sqlite3.connect(tmp_path / "t.db") as connection:
        last_user = [json.loads(row[0]) for row in connection.execute(
            "SELECT data FROM events WHERE type_name = 'user' ORDER BY id")][-1]
    assert last_user["text"] == REDACTED
    assert CODE not in (tmp_path / "t.db").read_bytes().decode("utf-8", "ignore")


def test_where_the_recent_window_starts():
    from bot.redaction import window_cut

    turn = [("action", "action_listen"), ("user", "user"), ("action", "x"), ("slot", "s"), ("bot", "b")]
    kinds = [(i + 1, kind) for i, (kind, _) in enumerate([("session_started", "")] + turn * 12)]
    assert window_cut(kinds[:1 + 5 * 10]) is None  # ten messages: read whole
    cut_id, before = window_cut(kinds)
    assert kinds[before] == (cut_id, "action") and kinds[before + 1][1] == "user"
    assert sum(1 for _, kind in kinds[before:] if kind == "user") == 10
    assert window_cut(kinds[:20] + [(999, "rewind")] + kinds[20:]) is None  # a replay: read whole
