"""Personal data never reaches the stored conversation history.

`RedactingTrackerStore` wraps any Rasa tracker store (SQLite by default, PostgreSQL or Redis when
configured) and redacts each tracker before it is persisted:

- a user message typed while the balance form asks for a sensitive slot (affiliate number,
  birth date, one-time code) is replaced whole by `[redacted]`;
- in every other message, runs of digits that look like identifiers, dates or phone numbers are
  masked, and so are dates with the month in words (a citizen may type their number or birth
  date unprompted);
- sensitive metadata (a phone shared from Telegram) is dropped, also from the copy Rasa keeps
  in the `session_started_metadata` slot.

The turn being processed still sees the original text (the form's validation needs it); only
what is written to the store, and streamed to an event broker, is redacted.

A turn's cost does not grow with the conversation: Rasa's SQL store appends only the events it
does not hold yet, so only those are serialised and redacted (`_RedactingView`); the form's
state they depend on is followed along the tracker's events without serialising them. Before,
every save redacted and rebuilt the whole tracker (4 ms at 25 turns, 46 ms at 250).

Nor does the rest of a turn: a conversation read back from the SQL store keeps its state (slots,
active form, latest message) from all its events but only the recent ones as its event list
(`recent_window`), so the dialogue policies' replay of the history and the tracker sent to the
action server stop growing with the conversation (issue 18: Rasa's CPU per turn went from 25 ms at
turns 1-15 to 85 ms at turns 81-120, most of it those two)."""
from __future__ import annotations

import asyncio
import copy
import json
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Text, Tuple

from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.events import ActiveLoop, Event, SessionStarted, SlotSet, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_speedups, store_outage
from bot.masking import IN_BOT_TEXT, mask_text

SENSITIVE_SLOTS = frozenset({"affiliate_number", "birth_date", "otp_code"})
SENSITIVE_METADATA = frozenset({"shared_phone", "phone", "contact", "contact_proof"})
REDACTED = "[redacted]"


def _clean_metadata(metadata: Any) -> Any:
    if not isinstance(metadata, dict):
        return metadata
    return {k: v for k, v in metadata.items() if k not in SENSITIVE_METADATA}


def _redact_user(event: Dict[str, Any], whole: bool) -> Dict[str, Any]:
    redact = (lambda _: REDACTED) if whole else mask_text
    event["text"] = redact(event.get("text"))
    event["metadata"] = _clean_metadata(event.get("metadata"))
    parse = event.get("parse_data") or {}
    if parse:
        parse["text"] = redact(parse.get("text"))
        parse["metadata"] = _clean_metadata(parse.get("metadata"))
        parse["entities"] = [] if whole else parse.get("entities", [])
    return event


FormState = Tuple[Any, Optional[Text]]  # (the requested slot, the active loop) at an event
NO_FORM: FormState = (None, None)


def follow_form(state: FormState, kind: Optional[Text], name: Any, value: Any = None) -> FormState:
    """The form's state after an event of type `kind` (its `name`, a slot's `value`)."""
    if kind == "slot" and name == "requested_slot":
        return value, state[1]
    if kind == "active_loop":
        return state[0], name
    return state


def redact_event(original: Dict[str, Any], state: FormState = NO_FORM) -> Dict[str, Any]:
    """A redacted copy of one serialised event, `state` being the form's state at that point."""
    event = copy.deepcopy(original)
    kind = event.get("event")
    requested, loop = state
    if kind == "user":
        event = _redact_user(event, whole=bool(loop) and requested in SENSITIVE_SLOTS)
    elif kind == "bot":
        event["text"] = mask_text(event.get("text"), IN_BOT_TEXT)
    elif kind == "slot":
        if event.get("name") == "session_started_metadata":
            event["value"] = _clean_metadata(event.get("value"))
        elif event.get("name") in SENSITIVE_SLOTS and event.get("value") and not str(event["value"]).startswith("ref:"):
            event["value"] = REDACTED
    return event


def redact_events(events: Iterable[Dict[str, Any]], state: FormState = NO_FORM) -> List[Dict[str, Any]]:
    """Redacted copies of serialised events (the form's state is followed along the way)."""
    out = []
    for original in events:
        state = follow_form(state, original.get("event"), original.get("name"), original.get("value"))
        out.append(redact_event(original, state))
    return out


def _event_form_fields(event: Event) -> Tuple[Optional[Text], Any, Any]:
    """What `follow_form` reads of a live event, without serialising it."""
    if isinstance(event, SlotSet):
        return event.type_name, event.key, event.value
    if isinstance(event, ActiveLoop):
        return event.type_name, event.name, None
    return None, None, None


class _RedactedOnWrite:
    """One of the tracker's events as the inner store sees it: serialised, redacted with the
    form's state at its position, only if the store writes it. No other attribute of the live
    event is reachable (an inner store reading one fails instead of storing it unredacted)."""

    __slots__ = ("_event", "_state", "_on_redact")

    def __init__(self, event: Event, state: FormState, on_redact) -> None:
        self._event, self._state, self._on_redact = event, state, on_redact

    @property
    def type_name(self) -> Text:
        return self._event.type_name

    @property
    def timestamp(self) -> float:
        return self._event.timestamp

    def as_dict(self) -> Dict[str, Any]:
        self._on_redact()
        return redact_event(self._event.as_dict(), self._state)


class _RedactingView:
    """The tracker's events for the inner store, each redacted when (and only when) serialised.

    Rasa's SQL store skips the events it already holds (`itertools.islice`) and serialises the
    rest; walking the view follows the form's state with a type check per event, so the cost of
    a save is that of its new events. `stored_before`: how many stored events of the session
    precede the tracker's event list when it holds only the recent ones (`recent_window`); the
    store counts them as held, and no form is active where the list starts."""

    def __init__(self, events: Sequence[Event], stored_before: int = 0) -> None:
        self._events = events
        self._stored_before = stored_before
        self.redacted = 0  # events serialised (and redacted) through this view

    def _count(self) -> None:
        self.redacted += 1

    def __len__(self) -> int:
        return self._stored_before + len(self._events)

    def __iter__(self) -> Iterator[Optional[_RedactedOnWrite]]:
        for _ in range(self._stored_before):
            yield None  # held by the store already: skipped by its islice, never serialised
        state = NO_FORM
        for event in self._events:
            kind, name, value = _event_form_fields(event)
            if kind:
                state = follow_form(state, kind, name, value)
            yield _RedactedOnWrite(event, state, self._count)


# How much of a conversation a turn reads as events: from the citizen's 10th last message on, and
# never from inside a form (moved back to before the form started). The dialogue's rules look at
# the last few turns and the follow-up context at the last CONTEXT_TURNS messages
# (bot/nlu/context.py); every slot and the active form are still those of the whole conversation.
RECENT_MESSAGES = 10
STORED_BEFORE = "_sanad_stored_before_window"  # attribute of a tracker read with a window


# The events that change a tracker's state other than its latest message and action: what a
# conversation's events before its recent window are read for. Two replay the history ("undo",
# "rewind"): a session holding one is read whole.
STATE_EVENT_TYPES = ("slot", "reset_slots", "active_loop", "loop_interrupted", "action_execution_rejected",
                     "pause", "resume", "restart", "session_started")
REPLAYING_EVENT_TYPES = frozenset({"undo", "rewind"})


def window_cut(kinds: Sequence[Tuple[int, Text]], recent_messages: int = RECENT_MESSAGES) -> Optional[Tuple[int, int]]:
    """From a session's (row id, event type) in order: the id of the first row of its recent
    window (the `action_listen` before the citizen's `recent_messages`-th last message) and how
    many rows precede it; None when the session is short or must be read whole."""
    users = [i for i, (_, kind) in enumerate(kinds) if kind == "user"]
    if len(users) <= recent_messages or any(kind in REPLAYING_EVENT_TYPES for _, kind in kinds):
        return None
    first = users[-recent_messages]
    if first > 0 and kinds[first - 1][1] == "action":
        first -= 1
    return kinds[first][0], first


def window_start(events: Sequence[Event], recent_messages: int = RECENT_MESSAGES) -> int:
    """Where the recent window of a session's events starts: `window_cut`'s place, moved back to
    the last `action_listen` before it where no form (active loop) runs; 0 when the session is
    read whole."""
    from rasa.shared.core.events import ActionExecuted

    cut = window_cut([(i, event.type_name) for i, event in enumerate(events)], recent_messages)
    if cut is None:
        return 0
    start, loop, free_listen = cut[1], None, 0
    for i, event in enumerate(events[:start]):
        if isinstance(event, ActiveLoop):
            loop = event.name
        elif not loop and isinstance(event, ActionExecuted) and event.action_name == "action_listen":
            free_listen = i
    return free_listen if loop else start


def recent_window(tracker: DialogueStateTracker, recent_messages: int = RECENT_MESSAGES) -> DialogueStateTracker:
    """The tracker, its state untouched, its event list cut to the recent window; remembers how
    many stored events precede the window, for the save."""
    import collections

    events = list(tracker.events)
    start = window_start(events, recent_messages)
    if start:
        tracker.events = collections.deque(events[start:])
    setattr(tracker, STORED_BEFORE, start)
    return tracker


rasa_speedups.remember_event_classes()  # reading a conversation back: see bot/rasa_speedups.py


def _complete(coroutine: Any) -> Any:
    """Run a coroutine that never suspends (Rasa's SQL store's `save` without an event broker)
    to its end, in whichever thread calls this."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the tracker store's save waited on something: it cannot run off the event loop")


SQLITE_BUSY_TIMEOUT_MS = 10_000


def share_sqlite_file(engine: Any) -> None:
    """Several Rasa processes of one machine (`sanad run --rasa-processes N`) share the embedded
    SQLite file. In write-ahead-log mode a reader never waits for a writer, and a writer waits (up
    to the busy timeout) for another instead of failing with "database is locked". Each process
    writes only the conversations the gateway sends it, so the writers seldom meet."""
    import sqlalchemy as sa

    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    sa.event.listen(engine, "connect", on_connect)
    engine.dispose()  # a connection opened by Rasa's table creation gets the settings too


class RedactingTrackerStore(TrackerStore):
    """A tracker store that redacts before delegating to the configured inner store."""

    def __init__(self, domain=None, host: Optional[Text] = None, event_broker=None,
                 store: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        inner = EndpointConfig.from_dict(store) if store else None
        self.inner = TrackerStore.create(inner, domain=domain, event_broker=event_broker)
        if type(self.inner) is SQLTrackerStore and self.inner.engine.dialect.name == "sqlite":
            share_sqlite_file(self.inner.engine)
        self.events_redacted = 0  # serialised events redacted so far (the work saves cost)

    @property
    def domain(self):
        return self.inner.domain

    @domain.setter
    def domain(self, domain) -> None:
        if hasattr(self, "inner"):
            self.inner.domain = domain
        self._domain = domain

    def redacted(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        """The whole tracker redacted and rebuilt: for stores that serialise more than events."""
        events = redact_events(e.as_dict() for e in tracker.events)
        self.events_redacted += len(events)
        return DialogueStateTracker.from_dict(tracker.sender_id, events, self.domain.slots)

    def redacting_view(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        """The same tracker whose events redact themselves when the inner store writes them."""
        view = copy.copy(tracker)  # shallow: only `events` differs, the live tracker is untouched
        view.events = _RedactingView(tracker.events, getattr(tracker, STORED_BEFORE, 0))
        return view

    async def save(self, tracker: DialogueStateTracker) -> None:
        try:
            await self._save(tracker)
        except Exception:
            store_outage.note_store_failure()  # Rasa's fail-safe wrapper hides it: see bot/store_outage.py
            raise
        store_outage.note_saved()

    async def _save(self, tracker: DialogueStateTracker) -> None:
        # The SQL and in-memory stores read only the sender id and the events' serialised form;
        # any other store (Redis, DynamoDB, Mongo...) may write the tracker's state (its slots,
        # the latest message), so it gets the whole tracker redacted.
        if type(self.inner) in (SQLTrackerStore, InMemoryTrackerStore):
            view = self.redacting_view(tracker)
            if type(self.inner) is SQLTrackerStore and self.inner.event_broker is None:
                # Rasa's SQL store is synchronous: its commit (fsyncs, on SQLite) held the event
                # loop, and every other conversation with it (11% of the server's samples).
                await asyncio.to_thread(_complete, self.inner.save(view))
            else:
                await self.inner.save(view)
            self.events_redacted += view.events.redacted
        else:
            await self.inner.save(self.redacted(tracker))

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        try:
            if type(self.inner) is SQLTrackerStore:
                return self._retrieve_from_sql(sender_id)
            return await self.inner.retrieve(sender_id)
        except Exception:
            store_outage.note_store_failure()  # else read as a new conversation (bot/store_outage.py)
            raise

    def _retrieve_from_sql(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Rasa's `SQLTrackerStore.retrieve` (the latest session's events, in order), reading only
        the serialised events' column: Rasa's query builds an ORM object per stored event, a third
        of the Rasa server's CPU per turn under load (py-spy, issue 18), growing with the session.

        A long session is read as its recent window (`recent_window`) without decoding the rest:
        before the window only the events that change the tracker's state (slots, forms, pauses,
        restarts) are read, so a turn's reading stops growing with the conversation."""
        import sqlalchemy as sa

        stored = self.inner.SQLEvent
        with self.inner.session_scope() as session:
            in_session = self._latest_session(session, sender_id)
            cut = None
            if self.inner.event_broker is None:  # with a broker Rasa's save compares whole lists
                kinds = session.query(stored.id, stored.type_name).filter(*in_session).order_by(stored.id).all()
                cut = window_cut(kinds)
            if cut is not None:
                cut_id, stored_before = cut
                rows = (session.query(stored.id, stored.data).filter(*in_session)
                        .filter(sa.or_(stored.id >= cut_id, stored.type_name.in_(STATE_EVENT_TYPES)))
                        .order_by(stored.id).all())
            else:
                rows = session.query(stored.id, stored.data).filter(*in_session).order_by(stored.id).all()
        if not rows or not self.domain:
            return None
        if cut is not None:
            tracker = self._windowed_tracker(sender_id, rows, *cut)
            if tracker is not None:
                return tracker
            return self._retrieve_whole(sender_id)
        # A short session, one with a replay, or a store with an event broker: read whole.
        return DialogueStateTracker.from_dict(sender_id, [json.loads(data) for _, data in rows], self.domain.slots)

    def _windowed_tracker(self, sender_id: Text, rows: Sequence[Tuple[int, Text]], cut_id: int,
                          stored_before: int) -> Optional[DialogueStateTracker]:
        """The tracker from the state events before the cut and every event from it on, holding
        only the latter; None when a form is active at the cut (read whole instead)."""
        import collections

        before = [json.loads(data) for row_id, data in rows if row_id < cut_id]
        recent = [json.loads(data) for row_id, data in rows if row_id >= cut_id]
        tracker = DialogueStateTracker.from_dict(sender_id, before, self.domain.slots)
        if tracker.active_loop_name:
            return None
        start = len(tracker.events)
        for event in deserialise_events(recent):
            tracker.update(event)
        tracker.events = collections.deque(list(tracker.events)[start:])
        setattr(tracker, STORED_BEFORE, stored_before)
        return tracker

    def _latest_session(self, session: Any, sender_id: Text) -> Tuple[Any, Any]:
        """The conditions selecting the conversation's latest session, as Rasa's store reads it:
        its events from the last `session_started` on (all of them when there is none)."""
        import sqlalchemy as sa

        stored = self.inner.SQLEvent
        latest_start = (session.query(sa.func.max(stored.timestamp).label("session_start"))
                        .filter(stored.sender_id == sender_id, stored.type_name == SessionStarted.type_name)
                        .subquery())
        return (stored.sender_id == sender_id,
                sa.or_(stored.timestamp >= latest_start.c.session_start, latest_start.c.session_start.is_(None)))

    def _retrieve_whole(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The latest session read whole (a form active where the window would start), then cut
        to its window with the form's start in it."""
        stored = self.inner.SQLEvent
        with self.inner.session_scope() as session:
            rows = session.query(stored.data).filter(*self._latest_session(session, sender_id)).order_by(stored.id).all()
        if not rows or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(data) for (data,) in rows], self.domain.slots)
        return recent_window(tracker)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self.inner.retrieve_full_tracker(conversation_id)

    async def keys(self) -> Iterable[Text]:
        return await self.inner.keys()

    async def delete(self, sender_id: Text) -> None:
        await self.inner.delete(sender_id)
