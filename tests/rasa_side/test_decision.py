"""The decision rule: the answer's own retrieval score counts, not only the intent's."""
import pytest

from bot.nlu.decision import (Thresholds, decide, decide_by_form, decide_message, load_thresholds,
                               names_only_the_fund)

T = Thresholds(intent_min=0.5, kb_floor=0.80, kb_span=0.10, intent_weight=0.5, answer=0.6, margin=0.1, clarify=0.3)


def intents(*pairs):
    return [{"name": n, "confidence": c} for n, c in pairs]


def kb(*pairs):
    return [{"topic": t, "score": s} for t, s in pairs]


def test_intent_and_answer_agree_confidently():
    d = decide(intents(("payment_channels", 0.95), ("contact", 0.03)), kb(("payment_channels", 0.90), ("contact", 0.82)), T)
    assert (d.decision, d.label, d.topic, d.routing_intent) == ("answer", "payment_channels", "payment_channels", "payment_channels")


def test_confident_intent_whose_answer_does_not_match_is_not_answered():
    """Rasa issue 9751: a 0.97 intent over an answer that does not fit the question."""
    d = decide(intents(("retirement", 0.97), ("contact", 0.01)), kb(("contact", 0.84), ("retirement", 0.79)), T)
    assert d.decision != "answer"


def test_two_close_topics_lead_to_a_clarification():
    d = decide(intents(("contribution_amount", 0.5), ("contribution_deadline", 0.45)),
               kb(("contribution_amount", 0.86), ("contribution_deadline", 0.86)), T)
    assert d.decision == "clarify" and d.routing_intent == "nlu_fallback"
    assert set(d.offered[:2]) == {"contribution_amount", "contribution_deadline"}


def test_nothing_fits_declines():
    d = decide(intents(("retirement", 0.2), ("contact", 0.2)), kb(("retirement", 0.78), ("contact", 0.77)), T)
    assert (d.decision, d.label) == ("out_of_scope", "out_of_scope")


def test_direct_intents_and_out_of_scope_need_the_minimum_probability():
    assert decide(intents(("human_handoff", 0.9)), [], T).label == "human_handoff"
    assert decide(intents(("out_of_scope", 0.9)), kb(("contact", 0.95)), T).label == "out_of_scope"
    weak = decide(intents(("greet", 0.3), ("contact", 0.3)), kb(("contact", 0.9)), T)
    assert weak.label != "greet"


def test_a_close_knowledge_base_match_overrules_the_classifiers_out_of_scope():
    """A reimbursement question the classifier files under out_of_scope (its training data has
    off-topic messages about medicines) but whose KB entry matches it closely."""
    with_veto = Thresholds(**{**T.__dict__, "oos_kb_veto": 0.90})
    ranking = intents(("out_of_scope", 0.99), ("health_coverage", 0.005))
    close = kb(("health_coverage", 0.91), ("contribution_amount", 0.84))
    assert decide(ranking, close, T).label == "out_of_scope"  # veto off (the default)
    assert decide(ranking, close, with_veto).decision in ("answer", "clarify")
    assert "health_coverage" in [s["topic"] for s in decide(ranking, close, with_veto).topic_scores[:2]]
    # A far match does not: the message stays declined.
    assert decide(ranking, kb(("contact", 0.86)), with_veto).label == "out_of_scope"


def test_a_sure_classifier_without_a_matching_entry_does_not_answer():
    """Hostile or meaningless input the classifier happens to be sure about ("<script>...</script>"
    was registration at 0.99): the topic's own entry is not among the retrieved ones."""
    ranking = intents(("registration", 0.99), ("out_of_scope", 0.005))
    unrelated = kb(("retirement", 0.855), ("family_allowances", 0.854))
    no_check = Thresholds(**{**T.__dict__, "answer": 0.45, "kb_floor": 0.86})
    assert decide(ranking, unrelated, no_check).decision == "answer"  # what happened before the check
    checked = Thresholds(**{**no_check.__dict__, "answer_kb_min": 0.84})
    assert decide(ranking, unrelated, checked).decision != "answer"
    # With its entry retrieved closely enough, the same classifier answers.
    assert decide(ranking, kb(("registration", 0.90), ("retirement", 0.85)), checked).label == "registration"


def test_per_language_overrides_apply_only_to_their_language():
    strict = Thresholds(**{**T.__dict__, "per_lang": {"ary": {"answer": 0.99}}})
    args = (intents(("payment_channels", 0.95)), kb(("payment_channels", 0.90)), strict)
    assert decide(*args, lang="fr").decision == "answer"
    assert decide(*args, lang="ary").decision != "answer"


def test_committed_calibration_loads():
    thresholds = load_thresholds()
    assert 0 < thresholds.answer <= 1 and 0 <= thresholds.intent_weight <= 1


@pytest.mark.parametrize("text", [
    "je viens d'ouvrir mon atelier, j'ai combien de jours pour faire mon inscription ?",
    "combien de temps j'ai pour me declarer apres l'ouverture ?",
    "how long do i have to sign up after i open my shop?",
    "شحال من نهار عندي باش نتسجل؟",
])
def test_a_question_of_how_long_is_never_a_balance_request(text):
    """A balance is an amount of money: "j'ai combien de jours" went to the balance form at 0.99."""
    ranking = intents(("account_balance", 0.95), ("registration", 0.04), ("contribution_deadline", 0.01))
    retrieved = kb(("registration", 0.9), ("contribution_deadline", 0.83))
    d = decide_message(text, ranking, retrieved, T)
    assert (d.decision, d.label) == ("answer", "registration"), d


@pytest.mark.parametrize("text", ["il me reste combien a payer ?", "combien de mois de retard j'ai ?",
                                  "ch7al bqa 3liya?"])
def test_an_amount_owed_or_months_of_arrears_stay_a_balance_request(text):
    ranking = intents(("account_balance", 0.95), ("registration", 0.04), ("contribution_deadline", 0.01))
    retrieved = kb(("registration", 0.9), ("contribution_deadline", 0.83))
    assert decide_message(text, ranking, retrieved, T).label == "account_balance"


def test_cancel_words_stop_but_farewells_are_left_to_the_classifier():
    assert decide_by_form("annuler").label == "cancel"
    assert decide_by_form("خلاص").label == "cancel"
    # "bslama" is goodbye: outside a form it must be answered as one, not as a cancellation
    assert decide_by_form("yallah bslama") is None


def test_a_long_question_containing_stop_is_not_a_cancellation():
    """Every cancel example is a few words; a question that merely contains "arrêter" is asked."""
    ranking = intents(("cancel", 0.75), ("retirement", 0.2), ("out_of_scope", 0.05))
    retrieved = kb(("retirement", 0.9), ("eligibility", 0.82))
    assert decide_message("je prefere arreter la", ranking, retrieved, T).label == "cancel"
    d = decide_message("à 60 ans j'arrête tout, je touche quelque chose après ?", ranking, retrieved, T)
    assert (d.decision, d.label) == ("answer", "retirement")
    # Stop words still stop, whatever the length of what the classifier reads.
    assert decide_message("stop", intents(("retirement", 0.9)), retrieved, T).label == "cancel"


# ---- a message that only names the fund ------------------------------------------------------

def test_messages_that_only_name_the_fund_are_recognised():
    for text in ("amo", "AMO ?", "l'AMO", "la CNSS", "casnos", "الامو", "الضمان الاجتماعي", "التغطية الصحية",
                 "التأمين الإجباري", "assurance maladie obligatoire", "amo tns", "amo chamil"):
        assert names_only_the_fund(text), text
    for text in ("", "?", "la", "cnss tunisie", "ipres senegal", "amo combien", "cnss numero", "mon solde amo",
                 "الضمان الاجتماعي الفرنسي", "assurance auto", "amo amo amo amo amo"):
        assert not names_only_the_fund(text), text


def test_a_declined_fund_name_gets_a_topic_menu_instead():
    """The classifier declines "amo" (no such training example): the citizen gets the closest
    topics to choose from, not "I can only answer questions about...". """
    ranking = intents(("out_of_scope", 0.8), ("health_coverage", 0.1), ("waiting_period", 0.05))
    retrieved = kb(("health_coverage", 0.85), ("waiting_period", 0.84), ("dependants", 0.83))
    assert decide(ranking, retrieved, T).decision == "out_of_scope"
    d = decide_message("AMO", ranking, retrieved, T)
    assert (d.decision, d.routing_intent) == ("clarify", "nlu_fallback")
    assert d.offered[:2] == ["health_coverage", "waiting_period"] and len(d.offered) == T.max_offered
    # Anything more than the fund's name keeps the classifier's decision.
    assert decide_message("cnss tunisie", ranking, retrieved, T).decision == "out_of_scope"
    # An answer is never replaced, and the form's words still come first.
    answered = intents(("contact", 0.95))
    assert decide_message("cnss", answered, kb(("contact", 0.9)), T).label == "contact"
    assert decide_message("annuler", ranking, retrieved, T).label == "cancel"


# ---- what the decision is taken on: readable text, a known fund -----------------------------

UNREADABLE_TEXTS = ["", "   ", "\u200b\u200b", "\ufeff", "\x00", "\ud800", "\n\t"]


def test_a_message_with_nothing_to_read_is_recognised():
    from bot.nlu.text import has_something_to_read, normalise, without_surrogates

    for text in UNREADABLE_TEXTS:
        assert not has_something_to_read(text), repr(text)
    for text in ("?", "1", "ب", "👍", "ok\u200b"):
        assert has_something_to_read(text), repr(text)
    assert without_surrogates("bon\ud800jour \udfff") == "bonjour "
    assert normalise("ou payer \ud83d") == "ou payer"  # never a character an encoder refuses


def pipeline_message(text, metadata=None):
    from rasa.shared.nlu.training_data.message import Message

    return Message(data={"text": text, "metadata": metadata or {"fund": "cnss_ma"}})


def test_every_message_gets_its_sentence_feature_even_with_nothing_to_read():
    """DIET needs the e5 feature on every message it classifies: an empty message went without it
    and DIET raised; a lone surrogate made the tokenizer raise. Both were 200 with no reply."""
    from bot.nlu.components import E5Featurizer

    featurizer = E5Featurizer(E5Featurizer.get_default_config(), "e5")
    messages = [pipeline_message(text) for text in ("", "\ud800", "bonjour \ud800", "ou payer")]
    featurizer.process(messages)
    for message in messages:
        [feature] = message.get_dense_features("text")[1:]  # (sequence, sentence): no sequence feature
        assert feature.features.shape == (1, 384)


def test_a_message_with_nothing_to_read_is_routed_to_its_own_intent_in_the_conversation_language():
    from bot.nlu.components import UNREADABLE, AnswerDecider, SanadLanguageDetector

    messages = [pipeline_message(text) for text in UNREADABLE_TEXTS]
    SanadLanguageDetector().process(messages)
    AnswerDecider(T).process(messages)
    for message in messages:
        assert message.get("intent") == {"name": UNREADABLE, "confidence": 1.0}
        block = message.get("sanad")
        assert block["label"] == UNREADABLE and "lang" not in block  # the reply keeps the conversation's
        assert "\ud800" not in message.get("text")


@pytest.mark.parametrize("requested", ["nope", "", None, 5, ["cnss_ma"], {"fund": "cnss_ma"}])
def test_an_unknown_fund_is_the_deployments_own(monkeypatch, requested):
    from bot.knowledge import known_fund
    from bot.nlu.components import SanadLanguageDetector

    monkeypatch.setenv("SANAD_FUND", "casnos_dz")
    assert known_fund(requested) == "casnos_dz" and known_fund("cnss_ma") == "cnss_ma"
    message = pipeline_message("bonjour", {"fund": requested})
    SanadLanguageDetector().process([message])
    assert message.get("sanad")["fund"] == "casnos_dz"
    monkeypatch.setenv("SANAD_FUND", "not_a_fund")  # a deployment's own typo still names a real fund
    assert known_fund(requested) == "cnss_ma"
