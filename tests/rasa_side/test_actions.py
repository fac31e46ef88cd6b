"""The actions, driven with tracker fixtures (no model needed)."""
import datetime as dt

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.conversation import ActionHumanHandoff, ActionSmallTalk, ActionUnexpected
from actions.faq import ActionAnswerFaq, ActionClarify, ActionOutOfScope


def tracker(text="...", sanad=None, intent="payment_channels", entities=None, slots=None, metadata=None,
            active_loop=None):
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
              "metadata": metadata or {}}
    if sanad is not None:
        latest["sanad"] = sanad
    loop = {"name": active_loop} if active_loop else {}
    return Tracker("tester", slots or {}, latest, [], False, None, loop, "action_listen")


def decided(fund="cnss_ma", lang="fr", script="latn", **extra):
    return {"fund": fund, "lang": lang, "script": script, "decision": "answer", "confidence": 0.9, **extra}


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, t, {})
    return dispatcher.messages, events


def payload(messages):
    return messages[0]["custom"]["sanad"]


def test_answer_carries_text_source_line_and_machine_readable_sources():
    messages, events = run(ActionAnswerFaq(), tracker(sanad=decided(topic="payment_channels")))
    text = messages[0]["text"]
    assert "Source :" in text and "vérifiée le" in text
    data = payload(messages)
    assert data["topic"] == "payment_channels" and data["sources"][0]["title"]
    assert {"event": "slot", "name": "reply_lang", "value": "fr", "timestamp": None} in events


def test_darija_in_arabic_script_gets_the_darija_answer():
    messages, _ = run(ActionAnswerFaq(), tracker(sanad=decided(lang="ary", script="arab", topic="payment_channels")))
    entry = context.knowledge_base().entry("cnss_ma", "payment_channels")
    assert messages[0]["text"].startswith(entry.answer["ary"])
    assert "المصدر" in messages[0]["text"]


@pytest.mark.parametrize("last, lang_weak, expected", [
    ("ary", True, "ary"),   # "وفين نخلصهم؟" after a Darija answer: the conversation's Darija holds
    ("arq", True, "ar"),    # ...along its fallback chain (cnss_ma has no Algerian Darija answer)
    ("ary", False, "ar"),   # an MSA question with MSA words switches to MSA
    (None, True, "ar"),     # no conversation yet: the detector's guess is all there is
])
def test_a_short_unmarked_follow_up_keeps_the_conversation_language(last, lang_weak, expected):
    t = tracker(text="وفين نخلصهم؟", slots={"reply_lang": last} if last else {},
                sanad=decided(lang="ar", script="arab", lang_weak=lang_weak, topic="payment_channels"))
    messages, events = run(ActionAnswerFaq(), t)
    entry = context.knowledge_base().entry("cnss_ma", "payment_channels")
    assert messages[0]["text"].startswith(entry.answer[expected])
    # The conversation's language after the turn: set anew only when it changes.
    set_again = [e["value"] for e in events if e.get("event") == "slot" and e["name"] == "reply_lang"]
    assert (set_again or [last]) == [expected] and (last != expected) == bool(set_again)


def test_each_fund_answers_from_its_own_entry():
    messages, _ = run(ActionAnswerFaq(), tracker(sanad=decided(fund="casnos_dz", topic="contact")))
    assert messages[0]["text"].startswith(context.knowledge_base().entry("casnos_dz", "contact").answer["fr"])
    assert "3939" not in messages[0]["text"]


def test_an_expired_measure_is_not_presented_as_current(monkeypatch):
    kb = context.knowledge_base()
    entry = kb.entry("cnss_ma", "debt_relief")
    expired = entry.copy(update={"valid_until": dt.date(2024, 4, 30)})
    monkeypatch.setitem(kb.entries, ("cnss_ma", "debt_relief"), expired)
    messages, _ = run(ActionAnswerFaq(), tracker(sanad=decided(topic="debt_relief")))
    text = messages[0]["text"]
    assert "2024-04-30" in text and "pris fin" in text and entry.answer["fr"] not in text


def test_button_press_answers_in_the_conversation_language():
    t = tracker(text='/choose_topic{"topic":"retirement"}', intent="choose_topic",
                entities=[{"entity": "topic", "value": "retirement"}], slots={"reply_lang": "ar"},
                metadata={"fund": "casnos_dz"})
    messages, _ = run(ActionAnswerFaq(), t)
    data = payload(messages)
    assert (data["topic"], data["lang"], data["fund"]) == ("retirement", "ar", "casnos_dz")


def test_a_button_choice_is_remembered_as_chosen_and_settles_the_next_clarification():
    choice = tracker(text='/choose_topic{"topic":"retirement"}', intent="choose_topic",
                     entities=[{"entity": "topic", "value": "retirement"}], metadata={"fund": "casnos_dz"})
    _, events = run(ActionAnswerFaq(), choice)
    assert {"event": "slot", "name": "context_chosen", "value": True, "timestamp": None} in events
    slots = {"context_topic": "retirement", "context_chosen": True, "reply_lang": "ar"}
    # The NLU offers eligibility alone; the clarification would add the fund's next best topic.
    sanad = decided(fund="casnos_dz", lang="ar", script="arab", decision="clarify", label="clarify",
                    offered=["eligibility"], scores_by_topic={"eligibility": 0.3, "retirement": 0.2},
                    followup={"cue": False, "words": 6, "content_words": 6})
    latest = {"text": "وكم سنة يجب أن أشتغل على الأقل؟", "intent": {"name": "nlu_fallback"}, "entities": [],
              "metadata": {}, "sanad": sanad}
    # The choice was answered (its slots set) one citizen message ago.
    user_events = [{"event": "user", "text": "..."}] * 2 + [
        {"event": "slot", "name": "context_topic", "value": "retirement"}, {"event": "user", "text": "..."}]
    for was_chosen, expected in ((True, "answer"), (False, "clarify")):
        t = Tracker("tester", {**slots, "context_chosen": was_chosen}, latest, user_events, False, None, {},
                    "action_listen")
        messages, _ = run(ActionClarify(), t)
        assert payload(messages)["decision"] == expected
    assert payload(run(ActionClarify(), Tracker("tester", slots, latest, user_events, False, None, {},
                                                "action_listen"))[0])["topic"] == "retirement"


def test_a_message_typed_instead_of_a_button_is_read_among_the_topics_just_offered(monkeypatch):
    """The clarification's own reply event (as Rasa stores it) tells the next turn what it offered:
    "w l-coiffeur?" typed after "registration or who must join?" is answered from eligibility."""
    from dataclasses import replace

    from bot.nlu.decision import Thresholds

    monkeypatch.setattr(context, "thresholds", lambda: replace(
        Thresholds(answer=0.35, margin=0.1, clarify=0.25), offered_weight=0.2, offered_oos_max=0.9))
    asked = decided(decision="clarify", label="clarify", offered=["registration", "eligibility"],
                    scores_by_topic={"registration": 0.3, "eligibility": 0.28})
    clarification, _ = run(ActionClarify(), tracker(sanad=asked))
    reply_event = {"event": "bot", "text": clarification[0]["text"],
                   "data": {"buttons": clarification[0]["buttons"], "custom": clarification[0]["custom"]}}
    typed = decided(decision="out_of_scope", label="out_of_scope", out_of_scope_p=0.4,
                    scores_by_topic={"eligibility": 0.2, "registration": 0.05},
                    followup={"cue": True, "words": 2, "content_words": 1})
    latest = {"text": "w l-coiffeur?", "intent": {"name": "out_of_scope"}, "entities": [], "metadata": {},
              "sanad": typed}
    events = [{"event": "user", "text": "inscription"}, reply_event, {"event": "user", "text": "w l-coiffeur?"}]
    after = Tracker("tester", {}, latest, events, False, None, {}, "action_listen")
    assert context.offered_just_before(after) == ["registration", "eligibility"]
    assert payload(run(ActionOutOfScope(), after)[0])["topic"] == "eligibility"
    # Another message came between: the offer no longer counts, the message is declined alone.
    later = Tracker("tester", {}, latest, [*events[:2], {"event": "user", "text": "merci"},
                                           {"event": "bot", "text": "De rien"}, events[2]],
                    False, None, {}, "action_listen")
    assert context.offered_just_before(later) == []
    assert payload(run(ActionOutOfScope(), later)[0])["decision"] == "out_of_scope"


def test_unknown_topic_from_a_forged_payload_is_declined():
    t = tracker(intent="choose_topic", entities=[{"entity": "topic", "value": "../../etc"}])
    messages, _ = run(ActionAnswerFaq(), t)
    assert payload(messages)["decision"] == "out_of_scope"


def test_clarification_offers_topic_buttons_in_arabic_and_a_way_out():
    sanad = decided(lang="ar", script="arab", decision="clarify", offered=["contribution_amount", "payment_channels"])
    messages, _ = run(ActionClarify(), tracker(sanad=sanad))
    buttons = messages[0]["buttons"]
    assert [b["payload"] for b in buttons[:2]] == ['/choose_topic{"topic":"contribution_amount"}',
                                                   '/choose_topic{"topic":"payment_channels"}']
    assert buttons[0]["title"] == "مبلغ الاشتراكات" and buttons[-1]["payload"] == "/human_handoff"


def test_a_clarification_always_offers_a_real_choice():
    """One topic above the clarify threshold, nothing else near: the fund's next best topic joins
    it, so the citizen chooses between two topics (and "none of these"), never one button alone."""
    sanad = decided(decision="clarify", offered=["waiting_period"],
                    scores_by_topic={"waiting_period": 0.3, "health_coverage": 0.12, "contact": 0.05, "rumours": 0.0})
    messages, _ = run(ActionClarify(), tracker(sanad=sanad))
    assert payload(messages)["offered"] == ["waiting_period", "health_coverage"]
    assert len(messages[0]["buttons"]) == 3  # two topics and the way out


def test_a_clarification_offers_only_topics_the_fund_answers_and_still_two():
    sanad = decided(fund="casnos_dz", decision="clarify", offered=["payment_channels", "not_a_casnos_topic"],
                    scores_by_topic={"payment_channels": 0.3, "not_a_casnos_topic": 0.29, "contact": 0.1})
    messages, _ = run(ActionClarify(), tracker(sanad=sanad))
    assert payload(messages)["offered"] == ["payment_channels", "contact"]


def test_clarification_without_candidates_declines():
    messages, _ = run(ActionClarify(), tracker(sanad=decided(decision="clarify", offered=[])))
    assert payload(messages)["decision"] == "out_of_scope"


@pytest.mark.parametrize("fund, channel", [("cnss_ma", "3939"), ("casnos_dz", "damancom")])
def test_out_of_scope_and_handoff_give_the_funds_own_channels(fund, channel):
    for action in (ActionOutOfScope(), ActionHumanHandoff()):
        messages, _ = run(action, tracker(sanad=decided(fund=fund)))
        assert channel in messages[0]["text"].lower()


def test_small_talk_in_english():
    messages, _ = run(ActionSmallTalk(), tracker(intent="thanks", sanad=decided(lang="en")))
    assert messages[0]["text"].startswith("You're welcome")


def test_fund_defaults_to_the_deployment_setting(monkeypatch):
    monkeypatch.setenv("SANAD_FUND", "casnos_dz")
    assert context.current_turn(tracker()).fund == "casnos_dz"


def test_a_language_chosen_on_the_channel_wins_over_detection():
    t = tracker(sanad=decided(lang="fr", topic="contact"), metadata={"fund": "cnss_ma", "lang": "ar"})
    messages, _ = run(ActionAnswerFaq(), t)
    assert payload(messages)["lang"] == "ar"


def followup(events):
    return [e["name"] for e in events if e["event"] == "followup"]


def test_a_contact_shared_outside_the_balance_form_gets_one_reply_then_rasa_listens():
    """The core fallback used to leave the next step to the policies, which found no rule after it
    and fell back again, ten times, and the conversation never listened again (issue 14)."""
    t = tracker(text="/share_contact", intent="share_contact", slots={"reply_lang": "ar"},
                metadata={"fund": "cnss_ma", "shared_phone": "+212600000101"})
    messages, events = run(ActionUnexpected(), t)
    assert len(messages) == 1 and messages[0]["text"].startswith("لا أستعمل رقم الهاتف")
    assert payload(messages)["decision"] == "unexpected" and "+212600000101" not in messages[0]["text"]
    assert followup(events) == ["action_listen"]


@pytest.mark.parametrize("intent", ["share_contact", "an_intent_no_rule_covers"])
def test_during_the_balance_form_it_hands_back_to_the_form_which_asks_again(intent):
    messages, events = run(ActionUnexpected(), tracker(text="/x", intent=intent, active_loop="balance_form"))
    assert messages[0]["text"] == "Je n'attendais pas ce message à cette étape."
    assert followup(events) == ["balance_form"]


def test_a_message_with_nothing_to_read_is_told_so_in_the_conversation_language():
    t = tracker(text="", intent="unreadable", slots={"reply_lang": "en"},
                sanad={"fund": "cnss_ma", "decision": "intent", "label": "unreadable", "confidence": 1.0})
    messages, events = run(ActionUnexpected(), t)
    assert messages[0]["text"] == "I could not read anything in your message. Please type it as text."
    assert followup(events) == ["action_listen"]


def test_any_other_unexpected_message_is_answered_with_what_sanad_can_do():
    messages, _ = run(ActionUnexpected(), tracker(text="/x", intent="an_intent_no_rule_covers"))
    assert messages[0]["text"].startswith("Je n'ai pas compris ce message.")


@pytest.mark.parametrize("metadata", [{"fund": "nope"}, {"fund": ["cnss_ma"]}, ["not", "an", "object"]])
def test_an_unknown_fund_is_the_deployments_own_and_never_raises(monkeypatch, metadata):
    """Rasa's channel refuses an unknown fund (bot/channels.py); its HTTP API does not, and a
    KeyError in bot/knowledge.py answered 200 with no reply."""
    monkeypatch.setenv("SANAD_FUND", "casnos_dz")
    t = tracker(metadata=metadata)
    assert context.current_turn(t).fund == "casnos_dz"
    for action in (ActionOutOfScope(), ActionHumanHandoff(), ActionSmallTalk(), ActionUnexpected()):
        messages, _ = run(action, t)
        assert payload(messages)["fund"] == "casnos_dz"
