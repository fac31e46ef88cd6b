"""What is persisted of a conversation holds no personal data."""
import json

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import paths
from bot.redaction import REDACTED, RedactingTrackerStore, mask_text, redact_events

NUMBER, BIRTH, CODE, PHONE = "100204821", "12/03/1980", "482913", "+212600000101"


@pytest.mark.parametrize("text, leaked", [
    ("mon numero est 100 204 821", "100 204 821"),
    ("né le 12/03/1980", "12/03/1980"),
    ("رقمي ١٠٠٢٠٤٨٢١", "١٠٠٢٠٤٨٢١"),
    ("appelez moi au +212 600 000 101", "600 000 101"),
    # Birth dates with the month in words, volunteered outside the form's birth-date step
    ("je suis né le 12 mars 1980, combien je dois", "12 mars 1980"),
    ("Née le 1er Février 1975 !", "Février 1975"),
    ("تاريخ ازديادي ١٢ مارس ١٩٨٠", "مارس"),
    ("ana mzyad 12 شتنبر 1980 w bghit n3ref chhal 3liya", "1980"),
    ("born on 3 February 1975", "February 1975"),
])
def test_mask_text_hides_identifiers_dates_and_phones(text, leaked):
    assert leaked not in mask_text(text)


def test_mask_text_keeps_ordinary_questions():
    assert mask_text("ou payer la cnss en 2024 ?") == "ou payer la cnss en 2024 ?"
    assert mask_text("appeler le 3939") == "appeler le 3939"
    assert mask_text("j'ai payé en mars 2024, c'est enregistré ?") == "j'ai payé en mars 2024, c'est enregistré ?"
    assert mask_text("Né le 12 mars 1980, je suis à jour ?") == "Né le […], je suis à jour ?"  # the rest untouched


def _conversation():
    return [
        SessionStarted(),
        SlotSet("session_started_metadata", {"fund": "cnss_ma", "shared_phone": PHONE}),
        UserUttered("je veux mon solde", {"name": "account_balance"}),
        ActiveLoop("balance_form"),
        SlotSet("requested_slot", "affiliate_number"),
        UserUttered("c'est 100-204-821", {"name": "inform"}, parse_data={"text": "c'est 100-204-821"}),
        SlotSet("affiliate_number", "ref:abc"),
        SlotSet("requested_slot", "birth_date"),
        UserUttered("12 mars 1980", {"name": "inform"}),
        SlotSet("requested_slot", "otp_code"),
        UserUttered("/share_contact", {"name": "share_contact"}, metadata={"shared_phone": PHONE}),
        UserUttered(CODE, {"name": "inform"}),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        BotUttered("Compte •••••4821 : 382,20 DH"),
        BotUttered("Cette mesure a pris fin le 31 décembre 2024."),
        UserUttered("merci, et je suis né le 12 mars 1980 au cas où", {"name": "thanks"}),
        UserUttered(f"au fait mon numero c'est {NUMBER}", {"name": "inform"}),
    ]


def test_redact_events():
    events = redact_events(e.as_dict() for e in _conversation())
    dumped = json.dumps(events, ensure_ascii=False)
    for secret in ("100-204-821", NUMBER, "12 mars 1980", CODE, PHONE):
        assert secret not in dumped
    users = [e for e in events if e["event"] == "user"]
    assert users[0]["text"] == "je veux mon solde"  # an ordinary message is kept
    assert users[1]["text"] == REDACTED and users[2]["text"] == REDACTED
    assert "merci, et je suis né le […] au cas où" in [u["text"] for u in users]  # volunteered, in words
    assert "Cette mesure a pris fin le 31 décembre 2024." in dumped  # the assistant's own dates stay


async def test_store_persists_only_redacted_events(tmp_path):
    domain = Domain.load(str(paths.DOMAIN))
    store = RedactingTrackerStore(domain=domain, store={"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "t.db")})
    assert isinstance(store.inner, SQLTrackerStore)
    tracker = DialogueStateTracker.from_events("citizen", _conversation(), domain.slots)
    await store.save(tracker)
    raw = (tmp_path / "t.db").read_bytes().decode("utf-8", "ignore")
    for secret in (NUMBER, "100-204-821", "12 mars 1980", CODE, PHONE):
        assert secret not in raw
    restored = await store.retrieve("citizen")
    assert len(restored.events) == len(tracker.events)


def test_masking_needs_only_the_standard_library():
    """The gateway (FastAPI environment, no Rasa) masks transcripts with the same function."""
    import subprocess
    import sys

    from bot import paths

    code = ("import sys; import bot.masking as m; "
            "assert not [k for k in sys.modules if k.split('.')[0] in ('rasa', 'rasa_sdk', 'tensorflow')]; "
            "print(m.mask_text('numero 100 204 821'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=paths.REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numero […]"


async def test_a_conversation_is_saved_while_another_process_reads_the_same_sqlite_file(tmp_path):
    """`sanad run --rasa-processes N`: N Rasa processes on one SQLite file. In write-ahead-log mode
    one process reading (a long conversation loading) never stops another from saving; in SQLite's
    default mode the save waited for the reader and failed with "database is locked"."""
    import sqlite3

    domain = Domain.load(str(paths.DOMAIN))
    store = RedactingTrackerStore(domain=domain, store={"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "t.db")})
    await store.save(DialogueStateTracker.from_events("first", _conversation(), domain.slots))
    other_process = sqlite3.connect(tmp_path / "t.db", timeout=0.1)
    assert other_process.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other_process.execute("BEGIN")
    assert other_process.execute("SELECT count(*) FROM events").fetchone()[0] > 0  # a read in progress
    await store.save(DialogueStateTracker.from_events("second", _conversation(), domain.slots))
    other_process.rollback()
    assert len((await store.retrieve("second")).events) == len(_conversation())


async def test_the_store_reads_back_the_latest_session_as_rasas_own_sql_store_does(tmp_path):
    """The conversation read with the serialised events' column alone (bot/redaction.py): the
    same events, in the same order, from the latest session only, as Rasa's own query."""
    domain = Domain.load(str(paths.DOMAIN))
    store = RedactingTrackerStore(domain=domain, store={"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "t.db")})
    tracker = DialogueStateTracker.from_events("citizen", _conversation(), domain.slots)
    await store.save(tracker)
    tracker.update(SessionStarted(timestamp=tracker.events[-1].timestamp + 10))
    tracker.update(UserUttered("et pour la retraite ?", timestamp=tracker.events[-1].timestamp + 1))
    await store.save(tracker)
    ours = await store.retrieve("citizen")
    rasas = await SQLTrackerStore.retrieve(store.inner, "citizen")
    assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]
    assert [e.type_name for e in ours.events] == ["session_started", "user"]
    assert await store.retrieve("nobody") is None
