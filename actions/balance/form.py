"""The balance form's actions. Slots never hold personal data: the affiliate number and the
verification token live in the vault under an opaque `ref:` reference; the birth date and the
code are sent to the backend and forgotten. The backend decides what matches, counts failures
and locks; this side only translates its answers into the citizen's language.

The form ends early (locked, backend unavailable) by filling its remaining slots with the
placeholder `ref:none` and recording why in `balance_outcome`; action_show_balance then says it."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.balance import contact_proof, replies
from actions.balance.client import AffiliateApi, conversation_key
from actions.balance.vault import vault
from actions.context import current_turn, knowledge_base
from actions.messages import say
from actions.reply import sanad_payload
from bot.nlu.userdata import affiliate_number, birth_date, one_time_code
from bot.registry import registry

logger = logging.getLogger(__name__)
FORM_SLOTS = ("affiliate_number", "birth_date", "otp_code")
NONE = "ref:none"
CONTACT = "contact"  # value of otp_code when the citizen shared their Telegram contact


def _fund_name(fund: str, lang: str) -> str:
    return knowledge_base().fund(fund).in_lang("name", lang)


def _number_format(fund: str) -> Dict[str, Any]:
    """What the number prompts show: the fund's number length and an example (registry.yml)."""
    number = registry().fund(fund).affiliate_number
    return {"length": number.length, "example": number.example}


def _channels(fund: str, lang: str) -> str:
    return knowledge_base().fund(fund).in_lang("official_channels", lang)


def vouched_phone(tracker: Tracker) -> Optional[str]:
    """The phone of the contact shared in this turn, when the gateway signed it for this very
    conversation (actions/balance/contact_proof.py); None otherwise."""
    metadata = tracker.latest_message.get("metadata") or {}
    phone = str(metadata.get("shared_phone") or "")
    proof = metadata.get("contact_proof")
    return phone if contact_proof.verify(contact_proof.secret_from_env(), tracker.sender_id, phone, proof) else None


def reset_events() -> List[EventType]:
    return [SlotSet(slot, None) for slot in (*FORM_SLOTS, "verification_id", "balance_outcome", "balance_retry_after")]


class ActionAskAffiliateNumber(Action):
    def name(self) -> Text:
        return "action_ask_affiliate_number"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        dispatcher.utter_message(
            text=say("ask_number", lang, **_number_format(turn.fund)),
            json_message=sanad_payload("account_balance", turn, lang=lang, step="affiliate_number"))
        return [SlotSet("reply_lang", lang)]


class ActionAskBirthDate(Action):
    def name(self) -> Text:
        return "action_ask_birth_date"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        dispatcher.utter_message(text=say("ask_birth_date", lang),
                                 json_message=sanad_payload("account_balance", turn, lang=lang, step="birth_date"))
        return []


class ActionAskOtpCode(Action):
    def name(self) -> Text:
        return "action_ask_otp_code"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        dispatcher.utter_message(
            text=say("ask_code", lang, fund=_fund_name(turn.fund, lang)),
            json_message=sanad_payload("account_balance", turn, lang=lang, step="otp_code", accept_contact=True))
        return []


class ValidateBalanceForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_balance_form"

    @staticmethod
    def _end(outcome: str) -> Dict[str, Any]:
        """Fill every slot so the form completes; action_show_balance reports `outcome`."""
        return {**{slot: NONE for slot in FORM_SLOTS}, "balance_outcome": outcome}

    async def extract_affiliate_number(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> Dict[str, Any]:
        """A citizen who writes their number with the question ("mon numéro est 123 456 789,
        combien je dois ?") is not asked for it again. Only the message that opens the form is
        read here (nothing requested yet); once the form asks, the domain's from_text mapping fills
        the slot. validate_affiliate_number then moves the number into the vault as usual."""
        if tracker.get_slot("requested_slot") is not None or tracker.get_slot("affiliate_number"):
            return {}
        turn = current_turn(tracker)
        number = affiliate_number(tracker.latest_message.get("text") or "", turn.fund)
        if not number:
            return {}
        dispatcher.utter_message(text=say("number_noted", turn.reply_lang()))
        return {"affiliate_number": number}

    async def validate_affiliate_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> Dict[str, Any]:
        turn = current_turn(tracker)
        number = affiliate_number(str(value or ""), turn.fund)
        if not number:
            lang = turn.reply_lang()
            dispatcher.utter_message(text=say("bad_number", lang, **_number_format(turn.fund)))
            return {"affiliate_number": None}
        return {"affiliate_number": vault().put(number)}

    async def validate_birth_date(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[str, Any]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        born = birth_date(str(value or ""))
        if born is None:
            dispatcher.utter_message(text=say("bad_birth_date", lang))
            return {"birth_date": None}
        number = vault().pop(tracker.get_slot("affiliate_number"))
        if number is None:  # the vault forgot it (timeout, restart): ask again
            dispatcher.utter_message(text=say("session_expired", lang))
            return {"affiliate_number": None, "birth_date": None}
        outcome = await AffiliateApi.from_env().start_verification(turn.fund, number, born, conversation_key(tracker.sender_id))
        if outcome.ok:
            return {"birth_date": NONE, "verification_id": outcome.data["verification_id"]}
        if outcome.kind == "mismatch":
            dispatcher.utter_message(text=say("mismatch", lang))
            return {"affiliate_number": None, "birth_date": None}
        if outcome.kind == "locked":
            return self._end("locked") | {"balance_retry_after": outcome.data.get("retry_after")}
        return self._end("unavailable")

    async def validate_otp_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> Dict[str, Any]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        api = AffiliateApi.from_env()
        verification = tracker.get_slot("verification_id")
        if value == CONTACT:
            phone = vouched_phone(tracker)
            if phone is None:  # not signed by the gateway for this conversation: proves nothing
                logger.warning("shared contact refused: no valid proof from the gateway")
                dispatcher.utter_message(text=say("contact_unverified", lang))
                return {"otp_code": None}
            outcome = await api.confirm_phone(verification, phone)
        else:
            code = one_time_code(str(value or ""))
            if code is None:
                dispatcher.utter_message(text=say("bad_code", lang))
                return {"otp_code": None}
            outcome = await api.confirm_code(verification, code)
        if outcome.ok:
            return {"otp_code": vault().put(outcome.data["token"], ttl=int(outcome.data.get("expires_in", 600))),
                    "balance_outcome": "verified"}
        if outcome.kind == "invalid_code" and outcome.data.get("attempts_left") == 0:
            return self._end("locked")  # the backend locks from the next call on
        if outcome.kind == "invalid_code":
            key = "wrong_phone" if value == CONTACT else "wrong_code"
            dispatcher.utter_message(text=say(key, lang, left=outcome.data.get("attempts_left", "?")))
            return {"otp_code": None}
        if outcome.kind in ("expired", "not_found"):
            dispatcher.utter_message(text=say("expired", lang))
            return {"affiliate_number": None, "birth_date": None, "otp_code": None, "verification_id": None}
        if outcome.kind == "locked":
            return self._end("locked") | {"balance_retry_after": outcome.data.get("retry_after")}
        return self._end("unavailable")


class ActionShowBalance(Action):
    def name(self) -> Text:
        return "action_show_balance"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        outcome = tracker.get_slot("balance_outcome")
        payload = sanad_payload("account_balance", turn, lang=lang, step="result")
        result = outcome if outcome == "locked" else "unavailable"
        if outcome == "verified":
            answer = await AffiliateApi.from_env().balance(vault().pop(tracker.get_slot("otp_code")) or "")
            if answer.ok:
                result, text = "shown", replies.balance_reply(answer.data, lang, _fund_name(turn.fund, lang))
            elif answer.kind == "token_expired":
                result, text = "session_expired", say("session_expired", lang)
        if result == "locked":
            retry = tracker.get_slot("balance_retry_after")
            minutes = max(1, round(float(retry) / 60)) if isinstance(retry, (int, float)) else 15
            text = say("locked", lang, minutes=minutes, channels=_channels(turn.fund, lang))
        elif result == "unavailable":
            text = say("unavailable", lang, channels=_channels(turn.fund, lang))
        metrics.balance_result(turn.fund, result)
        dispatcher.utter_message(text=text, json_message=payload)
        return reset_events()


class ActionCancelBalance(Action):
    def name(self) -> Text:
        return "action_cancel_balance"

    def run(self, dispatcher, tracker, domain) -> List[EventType]:
        turn = current_turn(tracker)
        lang = turn.reply_lang()
        vault().pop(tracker.get_slot("affiliate_number"))
        vault().pop(tracker.get_slot("otp_code"))
        if tracker.active_loop_name == "balance_form":
            metrics.balance_result(turn.fund, "cancelled")
        dispatcher.utter_message(text=say("cancelled", lang),
                                 json_message=sanad_payload("cancel", turn, lang=lang))
        return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events()]
