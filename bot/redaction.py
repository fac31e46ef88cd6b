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
what is written to the store, and streamed to an event broker, is redacted."""
from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

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


def redact_events(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Redacted copies of serialised events (the form's state is followed along the way)."""
    requested, loop, out = None, None, []
    for original in events:
        event = copy.deepcopy(original)
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind == "active_loop":
            loop = event.get("name")
        elif kind == "user":
            event = _redact_user(event, whole=bool(loop) and requested in SENSITIVE_SLOTS)
        elif kind == "bot":
            event["text"] = mask_text(event.get("text"), IN_BOT_TEXT)
        if kind == "slot":
            if event.get("name") == "session_started_metadata":
                event["value"] = _clean_metadata(event.get("value"))
            elif event.get("name") in SENSITIVE_SLOTS and event.get("value") and not str(event["value"]).startswith("ref:"):
                event["value"] = REDACTED
        out.append(event)
    return out


class RedactingTrackerStore(TrackerStore):
    """A tracker store that redacts before delegating to the configured inner store."""

    def __init__(self, domain=None, host: Optional[Text] = None, event_broker=None,
                 store: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        inner = EndpointConfig.from_dict(store) if store else None
        self.inner = TrackerStore.create(inner, domain=domain, event_broker=event_broker)

    @property
    def domain(self):
        return self.inner.domain

    @domain.setter
    def domain(self, domain) -> None:
        if hasattr(self, "inner"):
            self.inner.domain = domain
        self._domain = domain

    def redacted(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        events = redact_events(e.as_dict() for e in tracker.events)
        return DialogueStateTracker.from_dict(tracker.sender_id, events, self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.inner.save(self.redacted(tracker))

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self.inner.retrieve(sender_id)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self.inner.retrieve_full_tracker(conversation_id)

    async def keys(self) -> Iterable[Text]:
        return await self.inner.keys()

    async def delete(self, sender_id: Text) -> None:
        await self.inner.delete(sender_id)
