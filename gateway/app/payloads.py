"""The intent payloads a button may carry to Rasa: only the shapes the assistant itself issues.

A button's payload goes to Rasa as given ("/intent{...}"), which Rasa reads as an intent with
its entities, bypassing the NLU. The widget's `button` flag and Telegram's callback data are
written by the client, so a crafted frame could otherwise send any of Rasa's built-in intents
(`/restart`, `/session_start`, which wipe the conversation), set a slot through an entity
(`/inform{"affiliate_number": ...}`), or ask a topic that was never offered with extra
entities. The gateway lets through only:

    /choose_topic{"topic":"<topic id>"}   the clarification buttons (actions/faq.py)
    /human_handoff                        "none of these": a person (actions/faq.py)
    a channel's own commands              Telegram's /greet (on /start) and /share_contact
                                          (a contact shared by its owner), which the channel
                                          sends itself and no client can press

Anything else marked as a button is handled as typed text (its leading slashes dropped), and
counted (gateway/app/metrics.py `crafted_payloads`)."""
from __future__ import annotations

import re

# The exact shape actions/faq.py writes: one entity, a topic id (knowledge/topics.yml: lower
# case and underscores), no spaces.
ISSUED = re.compile(r'/choose_topic\{"topic":"[a-z][a-z0-9_]{0,63}"\}|/human_handoff')
CHANNEL_COMMANDS: dict[str, frozenset[str]] = {"telegram": frozenset({"/greet", "/share_contact"})}


def issued_by_assistant(payload: str) -> bool:
    """A payload of the assistant's own buttons (what a client may send back as one)."""
    return ISSUED.fullmatch(payload) is not None


def may_pass(payload: str, channel: str) -> bool:
    """A button's payload the relay may send to Rasa as an intent on this channel."""
    return issued_by_assistant(payload) or payload in CHANNEL_COMMANDS.get(channel, frozenset())
