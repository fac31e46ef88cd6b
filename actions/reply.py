"""What the actions' replies share: the machine-readable `custom.sanad` block (its contract:
docs/sanad-payload.schema.json) and the reply that names the fund and its official channels."""
from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk.executor import CollectingDispatcher

from actions.context import knowledge_base
from actions.messages import say


def sanad_payload(kind: str, turn=None, **fields: Any) -> Dict[str, Any]:
    """The machine-readable part of a reply, for the channels and for `sanad eval`: the
    decision, and (from the NLU) the fund, the detected language and the decision's confidence."""
    context = {"fund": turn.fund, "confidence": turn.decision.get("confidence"),
               "detected": {"lang": turn.lang.lang, "script": turn.lang.script}} if turn else {}
    return {"sanad": {"decision": kind, **context, **fields}}


def utter_with_channels(dispatcher: CollectingDispatcher, turn, key: str, decision: str) -> List[Dict]:
    """Say `key` (a sentence naming the fund and its official human channels) in the reply language."""
    lang = turn.reply_lang()
    fund = knowledge_base().fund(turn.fund)
    dispatcher.utter_message(
        text=say(key, lang, fund=fund.in_lang("name", lang), channels=fund.in_lang("official_channels", lang)),
        json_message=sanad_payload(decision, turn, lang=lang))
    return turn.remember_lang(lang)
