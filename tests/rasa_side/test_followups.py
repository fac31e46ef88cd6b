"""Follow-up questions answered in the conversation's context (issue 20).

The first tests read the form of a follow-up and the decision in context without a model; the
others go through the trained model: a Rasa server and an action server as processes, the
conversation in a SQLite tracker store, the test talking to Rasa's REST channel over HTTP."""
import uuid
from dataclasses import replace

import pytest

from bot.nlu.context import decide_in_context, settled_by_aspect, settled_by_choice, settled_by_context
from bot.nlu.decision import Thresholds, load_thresholds
from bot.nlu.followup import ASPECT_OF_CONTEXT, aspect_topic, followup_form, question_aspect, without_cue
from bot.tooling import services, training
from bot.tooling.run import post_message


@pytest.mark.parametrize("text", ["et pour un médecin ?", "w ana fla7?", "وإذا كنت حرفيا؟",
                                  "what about a taxi driver?", "والطبيب؟", "w ila kont coiffeur?"])
def test_follow_up_openings_are_read_as_such(text):
    assert followup_form(text)["cue"], text


@pytest.mark.parametrize("text", ["واش التاجر لازم يخلص الكاسنوس", "وين نخلص الكوتيزاسيون",
                                  "comment payer ma cotisation", "who has to join the cnss?"])
def test_questions_of_their_own_are_not(text):
    assert not followup_form(text)["cue"], text


def _block(decision: str, scores: dict, words: int = 4, cue: bool = True,
           out_of_scope_p: float = 0.2, aspect: str | None = None) -> dict:
    return {"decision": decision, "label": decision,
            "followup": {"cue": cue, "words": words, "content_words": words, "aspect": aspect},
            "out_of_scope_p": out_of_scope_p, "scores_by_topic": scores, "kb_ranking": []}


@pytest.mark.parametrize("text, aspect", [
    ("w fin?", "where"), ("et on paie où ?", "where"), ("ووين نخلص؟", "where"), ("وأين أدفعها؟", "where"),
    ("and when?", "when"), ("how soon?", "when"), ("w imta?", "when"), ("ومتى؟", "when"), ("w wa9tach?", "when"),
    ("et combien ?", "how_much"), ("w ch7al?", "how_much"), ("وقداه؟", "how_much"),
    ("وكم سأدفع؟", "how_much"),
    ("and which documents?", "documents"), ("والوراق؟", "documents"),
    ("وخلال كم يوما؟", "how_long"), ("j'ai combien de jours pour le faire ?", "how_long"),
    ("how long do I have?", "how_long"),
    ("w ch7al mn nhar 3ndi?", "how_long"),
    ("c'est obligatoire ou facultatif ?", "obligation"), ("is it compulsory for me?", "obligation"),
    ("واش بزز ولا بالخاطر؟", "obligation"), ("هل هو إجباري؟", "obligation"), ("wach mfrouda?", "obligation"),
    ("et pour un médecin ?", None), ("w ana fla7?", None), ("what about a taxi driver?", None),
])
def test_the_aspect_a_question_word_asks_about(text, aspect):
    assert question_aspect(text) == aspect, text


@pytest.mark.parametrize("text, words", [("what about a taxi driver?", 2), ("et pour un médecin ?", 1),
                                         ("w ana fla7?", 1), ("والطبيب؟", 1), ("w fin?", 0),
                                         # the question phrase is no content: three words or one
                                         ("how many days do I have?", 2), ("when do I have?", 2),
                                         ("et je paie où ?", 2), ("j'ai combien de jours pour le faire ?", 3)])
def test_the_gate_counts_words_of_content_after_the_cue(text, words):
    assert followup_form(text)["content_words"] == words, text


@pytest.mark.parametrize("text, cue, words, rest", [
    ("ok, et quels papiers ?", True, 1, None),
    ("ok and a speech therapist?", True, 2, None),
    ("ah ok merci, et pour ma femme ?", True, 1, None),
    ("حسنا، وماذا عن الخياط؟", True, 1, None),
    ("wakha w l-coiffeur?", True, 1, None),
    ("ok les papiers ?", False, 0, None),  # an interjection is no cue of its own
    ("ok", False, 0, None),
    ("et pour un médecin ?", True, 1, "un médecin"),
])
def test_an_interjection_before_the_cue_is_read_past(text, cue, words, rest):
    """"ok, et ..." opens like "et ..." for the gates of length: the interjection says nothing (it
    hid the cue before). The person probe does not read it without its cue: it is never a
    follow-up by naming somebody."""
    form = followup_form(text)
    assert (form["cue"], form["content_words"], without_cue(text)) == (cue, words, rest), text
    assert form["interjection"] == (text != "et pour un médecin ?")


def test_a_reply_after_an_interjection_is_a_follow_up_by_length_only_not_by_naming_somebody():
    """"wakha w lwalida dyali li sakna m3aya?" after a health answer asks whether the mother is a
    dependant; the person probe must not pull it to the conversation's topic."""
    def block(interjection: bool, content_words: int) -> dict:
        b = _block("answer", {"dependants": 0.6, "health_coverage": 0.04}, words=content_words)
        b["followup"]["interjection"], b["person_p"] = interjection, 0.91
        return b

    assert decide_in_context(block(False, 5), "health_coverage", FITTED, "ary") is not None  # by the person
    assert decide_in_context(block(True, 5), "health_coverage", FITTED, "ary") is None
    short = _block("out_of_scope", {"registration": 0.2, "eligibility": 0.05}, words=1, aspect="documents")
    short["followup"]["interjection"] = True  # "ok, et quels papiers ?"
    assert decide_in_context(short, "eligibility", FITTED, "fr").topic == "registration"


WEIGHTED = replace(Thresholds(answer=0.35, margin=0.1, clarify=0.25), context_weight=0.4,
                   followup_max_words=6, followup_oos_max=0.9)


def test_a_fragment_takes_the_conversation_topic():
    block = _block("out_of_scope", {"eligibility": 0.05, "retirement": 0.04, "contact": 0.02})
    decided = decide_in_context(block, "eligibility", WEIGHTED, "fr")
    assert (decided.decision, decided.topic) == ("answer", "eligibility")


def test_a_follow_up_naming_its_own_topic_switches():
    block = _block("answer", {"payment_channels": 0.8, "contribution_amount": 0.05})
    decided = decide_in_context(block, "contribution_amount", WEIGHTED, "fr")
    assert decided.topic == "payment_channels"


FITTED = load_thresholds()


def test_where_after_an_amount_is_where_to_pay():
    """'w fin?' names payment channels only by its question word; the amount answered before
    does not keep it (fitted weights of bot/calibration.yml)."""
    block = _block("out_of_scope", {"contribution_amount": 0.08, "payment_channels": 0.06}, words=0,
                   aspect="where")
    decided = decide_in_context(block, "contribution_amount", FITTED, "ary")
    assert (decided.decision, decided.topic) == ("answer", "payment_channels")


def test_when_after_registration_is_the_deadline():
    block = _block("clarify", {"registration": 0.2, "contribution_deadline": 0.1}, words=0, aspect="when")
    decided = decide_in_context(block, "registration", FITTED, "en")
    assert (decided.decision, decided.topic) == ("answer", "contribution_deadline")


def test_where_after_the_papers_to_register_is_where_to_register():
    """"w fin ndihom?" after the documents: where to register, not where to pay."""
    block = _block("clarify", {"payment_channels": 0.2, "registration": 0.15}, words=0, aspect="where")
    decided = decide_in_context(block, "registration", FITTED, "ary")
    assert (decided.decision, decided.topic) == ("answer", "registration")
    assert aspect_topic("where", "contribution_amount") == "payment_channels"
    assert aspect_topic("how_much", "retirement") == "retirement" and aspect_topic(None, "retirement") is None
    assert aspect_topic("how_long", "eligibility") == aspect_topic("when", "eligibility") == "registration"
    # "within how many days?" after registration is the time limit to register; after an amount, to pay.
    assert aspect_topic("how_long", "registration") == "registration"
    assert aspect_topic("how_long", "contribution_amount") == "contribution_deadline"


@pytest.mark.parametrize("text", ["et il fait comment ?", "and how?", "w kifach?", "وكيفاش", "وكيف ذلك؟",
                                  "comment ?", "how does it work?"])
def test_a_bare_how_asks_how_to_do_what_the_answer_was_about(text):
    """"and how?" after "must I join?" asks how to join; after payment channels, how to pay."""
    assert question_aspect(text) == "how", text
    assert aspect_topic("how", "eligibility") == "registration"
    assert aspect_topic("how", "payment_channels") == "payment_channels"


@pytest.mark.parametrize("text", ["et je paie comment ?", "and how do I pay?", "w kifach nkhalas?",
                                  "kifach nsajel f casnos", "et comment je m'inscris ?"])
def test_how_with_words_of_its_own_is_no_aspect(text):
    """These name their own topic: "how" must not hand them to the conversation's."""
    assert question_aspect(text) is None, text


def test_where_after_eligibility_is_where_to_register():
    """"وأين يتم التسجيل؟" after "must a tourist guide join?": where to register, not where to pay."""
    assert question_aspect("وأين يتم التسجيل؟") == "where"
    assert aspect_topic("where", "eligibility") == "registration"
    block = _block("clarify", {"payment_channels": 0.2, "registration": 0.15, "eligibility": 0.1}, words=0,
                   aspect="where")
    decided = decide_in_context(block, "eligibility", FITTED, "ar")
    assert (decided.decision, decided.topic) == ("answer", "registration")


def test_a_bare_how_passes_the_gate_without_a_topic_of_its_own():
    """"et il fait comment ?" scores no topic for its question word; a fitted minimum for a
    question word's own topic must not turn it away."""
    strict = replace(FITTED, aspect_own_min=0.3)
    block = _block("clarify", {"registration": 0.1, "eligibility": 0.12, "payment_channels": 0.1}, words=0,
                   aspect="how")
    decided = decide_in_context(block, "eligibility", strict, "fr")
    assert (decided.decision, decided.topic) == ("answer", "registration")


@pytest.mark.parametrize("text, rest", [
    ("et pour ma soeur qui est coiffeuse ?", "ma soeur qui est coiffeuse"), ("وبائع السمك؟", "بائع السمك"),
    ("و بائع السمك؟", "بائع السمك"), ("what about a taxi driver?", "a taxi driver"), ("w ana fla7?", "fla7"),
    ("Et un boulanger ?", "boulanger"), ("vendeur de légumes", None), ("et ?", None)])
def test_a_follow_up_without_its_cue(text, rest):
    assert without_cue(text) == rest, text


def test_the_person_probe_also_reads_a_latin_script_follow_up_without_its_cue():
    """The probe was fitted on bare phrases: "et pour un boulanger ?" reads as a person once its cue
    is off; the higher reading counts. An Arabic-script message is read as typed (cutting its glued
    "و" lost more persons than it found), and a message without a cue costs no embedding."""
    import numpy as np

    from bot.nlu.persons import PersonProbe

    class Embedder:  # one dimension: 1 for the bare phrases the probe knows, 0 otherwise
        calls = []

        def embed(self, texts):
            self.calls.append(list(texts))
            return np.array([[1.0 if t in ("un boulanger", "بائع السمك") else 0.0] for t in texts], np.float32)

    probe, embedder = PersonProbe(np.array([8.0]), -4.0), Embedder()
    low, high = np.array([0.0], np.float32), np.array([1.0], np.float32)
    got = probe.probabilities(embedder, ["et pour un boulanger ?", "un boulanger", "et le prix ?", "وبائع السمك؟"],
                              [low, high, low, low])
    assert got[0] == probe.probability(high) > 0.9 and got[1] > 0.9
    assert got[2] == got[3] == probe.probability(low) < 0.1
    assert embedder.calls == [["un boulanger", "prix"]]
    # the reading without the cue only ever raises it
    assert probe.probabilities(embedder, ["et pour un boulanger ?"], [np.array([2.0], np.float32)]) == \
        [probe.probability(np.array([2.0], np.float32))]


def test_the_calibration_never_pairs_a_question_word_with_a_topic_that_is_its_own_aspect():
    """The fitted question weights hold for ASPECT_OF_CONTEXT because the calibration's question
    pairs (followup_fragments.yml) leave those contexts out; adding one there would fit them on
    the wrong label."""
    import yaml

    from bot.tooling.calibration import FRAGMENTS_FILE

    contexts = yaml.safe_load(FRAGMENTS_FILE.read_text(encoding="utf-8"))["question_contexts"]
    assert not [(aspect, topic) for aspect, topics in contexts.items() for topic in topics
                if (aspect, topic) in ASPECT_OF_CONTEXT]


def test_a_question_word_in_a_question_of_its_own_is_not_a_follow_up():
    """A full question that is answered alone keeps its answer, whatever its question word."""
    own = {"payment_channels": 0.9, "contribution_amount": 0.05}
    block = _block("answer", own, words=6, cue=False, aspect="where")
    assert decide_in_context(block, "contribution_amount", FITTED, "fr") is None
    long = _block("out_of_scope", own, words=FITTED.question_max_words + 1, aspect="how_much")
    assert decide_in_context(long, "registration", FITTED, "fr") is None


def test_a_follow_up_naming_a_person_passes_the_gate_whatever_its_length():
    """"et un réparateur de vélos qui travaille dans son garage ?" is long and out of scope alone;
    with a cue and the person probe's word (bot/nlu/persons.py) it asks the conversation's question."""
    person = replace(WEIGHTED, person_min=0.5)
    block = {**_block("out_of_scope", {"eligibility": 0.05, "retirement": 0.04}, words=6, out_of_scope_p=0.97),
             "person_p": 0.9}
    decided = decide_in_context(block, "eligibility", person, "fr")
    assert (decided.decision, decided.topic) == ("answer", "eligibility")
    assert decide_in_context({**block, "person_p": 0.2}, "eligibility", person, "fr") is None
    assert decide_in_context({**block, "person_p": None}, "eligibility", person, "fr") is None
    no_cue = {**block, "followup": {**block["followup"], "cue": False}}
    assert decide_in_context(no_cue, "eligibility", person, "fr") is None
    assert decide_in_context(block, "eligibility", replace(person, person_min=1.01), "fr") is None
    # With a fitted out-of-scope bound, a "person" the classifier is sure is out of scope is turned away.
    assert decide_in_context(block, "eligibility", replace(person, person_oos_max=0.95), "fr") is None
    assert decide_in_context(block, "eligibility", replace(person, person_oos_max=0.99), "fr").topic == "eligibility"
    # ...and one that asks its own question, answered confidently alone, is left to itself.
    own = {**block, "decision": "answer", "label": "dependants", "confidence": 0.8}
    assert decide_in_context(own, "eligibility", replace(person, person_answer_max=0.7), "fr") is None
    assert decide_in_context(own, "eligibility", replace(person, person_answer_max=0.9), "fr") is not None


def test_a_question_word_follow_up_must_lean_by_itself_on_what_it_asks_about():
    """"وشحال ولات البوطا دابا؟" (how much is butane now?) after an answer about registration has
    the form of "w ch7al?", but by itself it leans on no topic: with the gate it is decided alone."""
    asking = replace(WEIGHTED, question_context_weight=-0.2, aspect_weight=0.6, aspect_oos_max=1.01,
                     question_max_words=3, aspect_own_min=0.1, person_min=0.5)
    butane = {**_block("out_of_scope", {"contribution_amount": 0.02, "registration": 0.01}, words=3,
                       aspect="how_much"), "person_p": 0.9}  # a person's word never lets a question through
    assert decide_in_context(butane, "registration", asking, "ary") is None
    how_much = _block("out_of_scope", {"contribution_amount": 0.2, "registration": 0.05}, words=1, aspect="how_much")
    decided = decide_in_context(how_much, "registration", asking, "ary")
    assert (decided.decision, decided.topic) == ("answer", "contribution_amount")
    assert decide_in_context(butane, "registration", replace(asking, aspect_own_min=0.0), "ary").topic \
        == "contribution_amount"  # the gate off: what happened before it


def test_after_a_choice_a_clarification_offering_the_chosen_topic_is_settled():
    """"التقاعد" -> the citizen picks Retirement -> "وكم سنة يجب أن أشتغل على الأقل؟" would offer
    eligibility or retirement again: the citizen has already said which."""
    block = _block("clarify", {"eligibility": 0.3, "retirement": 0.25}, words=5, cue=False)
    assert settled_by_choice(block, ["eligibility", "retirement"], "retirement")
    # The chosen topic is not among those offered: the question is about something else.
    assert not settled_by_choice(block, ["eligibility", "registration"], "retirement")
    # Its question word asks about another offered topic: "et combien ?" still asks.
    how_much = _block("clarify", {"payment_channels": 0.3}, words=0, aspect="how_much")
    assert not settled_by_choice(how_much, ["payment_channels", "contribution_amount"], "payment_channels")
    # ...but "كم" after a pension answer asks about the pension (ASPECT_OF_CONTEXT).
    how_many = _block("clarify", {"eligibility": 0.3}, words=3, aspect="how_much")
    assert settled_by_choice(how_many, ["eligibility", "retirement"], "retirement")


def settles(block, topic, t):
    """Whether the clarification `block` decided is settled by the conversation's `topic`."""
    return settled_by_context(block["decision"], block["offered"], block, topic, t)


def test_the_conversations_topic_settles_a_clarification_offering_it_only_when_fitted_on():
    """"et ma femme, elle part plus tot ?" after a retirement answer would offer retirement or
    dependants: with `context_settles` fitted on, the conversation's topic answers."""
    block = {**_block("clarify", {"retirement": 0.3, "dependants": 0.28}, words=6), "offered": ["retirement", "dependants"]}
    fitted_on = Thresholds(context_settles=1.0)
    assert settles(block, "retirement", fitted_on)
    assert not settles(block, "retirement", Thresholds())  # off unless fitted on
    assert not settles(block, "payment_channels", fitted_on)  # not offered
    assert not settles(block, None, fitted_on)  # no recent topic
    answered = {**block, "decision": "answer", "label": "dependants"}
    assert not settles(answered, "retirement", fitted_on)  # only a clarification
    # A question word asking about another offered topic still asks ("et je paie où ?" after an amount).
    where = {**_block("clarify", {"payment_channels": 0.3}, words=0, aspect="where"),
             "offered": ["payment_channels", "contribution_amount"]}
    assert not settles(where, "contribution_amount", fitted_on)


def test_the_question_word_settles_a_clarification_offering_what_it_asks_about_when_fitted_on():
    """"ok et je paie où ça ?" after an amount would offer payment channels or the amount again: the
    question word asks where to pay, so with `aspect_settles` fitted on, payment channels answers."""
    where = {**_block("clarify", {"payment_channels": 0.3, "contribution_amount": 0.28}, words=4,
                      aspect="where"), "offered": ["payment_channels", "contribution_amount"]}
    fitted_on = Thresholds(aspect_settles=1.0)
    assert settled_by_aspect("clarify", where["offered"], where, "contribution_amount", fitted_on) == "payment_channels"
    assert settled_by_aspect("clarify", where["offered"], where, "contribution_amount", Thresholds()) is None
    assert settled_by_aspect("clarify", where["offered"], where, None, fitted_on) is None  # no recent topic
    assert settled_by_aspect("answer", where["offered"], where, "contribution_amount", fitted_on) is None
    # The word asks about the conversation's own topic, or about a topic not offered: it still asks.
    assert settled_by_aspect("clarify", where["offered"], where, "payment_channels", fitted_on) is None
    assert settled_by_aspect("clarify", ["dependants", "contribution_amount"], where, "contribution_amount",
                             fitted_on) is None


CHOICE = replace(Thresholds(answer=0.35, margin=0.1, clarify=0.25), choice_weight=0.3, choice_oos_max=0.9)


def test_the_message_right_after_a_choice_leans_on_the_chosen_topic_whatever_its_form():
    """"pension" -> the citizen picks Retirement -> "c'est obligatoire ou pas pour nous ?": long,
    no cue, read alone as eligibility; right after the choice it is about retirement."""
    block = _block("answer", {"eligibility": 0.45, "retirement": 0.3}, words=7, cue=False)
    assert decide_in_context(block, "retirement", CHOICE, "fr") is None  # not a follow-up by its form
    decided = decide_in_context(block, "retirement", CHOICE, "fr", just_chosen=True)
    assert (decided.decision, decided.topic) == ("answer", "retirement")


def test_whether_it_is_mandatory_right_after_choosing_the_pension_is_about_the_pension():
    """topics.md: retirement covers "voluntary or mandatory". Read alone, "is it mandatory or
    optional for me?" is eligibility by far; the choice's weight alone does not turn it."""
    aspect_weights = replace(CHOICE, choice_weight=0.2, aspect_weight=0.6)
    scores = {"eligibility": 0.7, "retirement": 0.07}
    plain = _block("answer", scores, words=5, cue=False)
    decided = decide_in_context(plain, "retirement", aspect_weights, "en", just_chosen=True)
    assert decided.topic == "eligibility"
    asking = _block("answer", scores, words=5, cue=False, aspect="obligation")
    decided = decide_in_context(asking, "retirement", aspect_weights, "en", just_chosen=True)
    assert (decided.decision, decided.topic) == ("answer", "retirement")
    # After choosing another topic, the same question is who must join.
    decided = decide_in_context(asking, "payment_channels", aspect_weights, "en", just_chosen=True)
    assert decided.topic == "eligibility"


def test_whether_it_is_mandatory_after_a_pension_answer_is_about_the_pension_however_sure_the_classifier():
    """Alone, "w hiya obligatoire wela la?" is eligibility at 0.94 because of "obligatoire"; after
    a pension answer that score is the pension's (followup.SCORE_FOLLOWS_CONTEXT). The aspect's
    weight alone left it on eligibility (held-out set 9: four languages)."""
    asking = _block("answer", {"eligibility": 0.94, "retirement": 0.04}, words=2, aspect="obligation")
    decided = decide_in_context(asking, "retirement", FITTED, "arq")
    assert (decided.decision, decided.topic) == ("answer", "retirement")
    # After any other topic it is who must join, and a question that names its own topic switches.
    assert decide_in_context(asking, "contribution_amount", FITTED, "arq").topic == "eligibility"
    where = _block("answer", {"payment_channels": 0.9, "registration": 0.05}, words=2, aspect="where")
    assert decide_in_context(where, "registration", FITTED, "fr").topic == "payment_channels"


def test_a_bare_is_it_mandatory_after_a_pension_answer_needs_no_cue():
    """"c obligatoire ?" / "واش إجباري؟" open with no cue and are answered alone (eligibility), which
    otherwise makes a message a question of its own; here that answer comes from the word alone."""
    bare = _block("answer", {"eligibility": 0.91, "retirement": 0.02}, words=1, cue=False, aspect="obligation")
    bare["label"] = "eligibility"
    decided = decide_in_context(bare, "retirement", FITTED, "fr")
    assert (decided.decision, decided.topic) == ("answer", "retirement")
    assert decide_in_context(bare, "contribution_amount", FITTED, "fr") is None  # elsewhere it stands alone
    # A question word answered alone from another topic keeps the rule: a question of its own.
    other = _block("answer", {"contribution_amount": 0.8, "retirement": 0.05}, words=2, cue=False,
                   aspect="how_much")
    other["label"] = "contribution_amount"
    assert decide_in_context(other, "retirement", FITTED, "fr") is None


def test_after_a_choice_a_clear_question_elsewhere_or_out_of_scope_stays_itself():
    elsewhere = _block("answer", {"payment_channels": 0.8, "retirement": 0.05}, words=6, cue=False)
    decided = decide_in_context(elsewhere, "retirement", CHOICE, "fr", just_chosen=True)
    assert decided is None or decided.topic == "payment_channels"
    weather = _block("out_of_scope", {"retirement": 0.1}, words=6, cue=False, out_of_scope_p=0.97)
    assert decide_in_context(weather, "retirement", CHOICE, "fr", just_chosen=True) is None
    balance = {**_block("intent", {}, words=4, cue=False), "label": "account_balance"}
    assert decide_in_context(balance, "retirement", CHOICE, "fr", just_chosen=True) is None
    off = replace(CHOICE, choice_weight=0.0)
    assert decide_in_context(_block("answer", {"eligibility": 0.45, "retirement": 0.3}, words=7, cue=False),
                             "retirement", off, "fr", just_chosen=True) is None


OFFER = replace(Thresholds(answer=0.35, margin=0.1, clarify=0.25), offered_weight=0.2, offered_oos_max=0.9)


def test_a_message_typed_after_a_clarification_is_read_among_the_topics_it_offered():
    """"inscription ?" -> "registration or who must join?" -> the citizen types "et les coiffeurs ?"
    instead of a button: alone it is declined (no topic of its own); read among the two offered
    topics, the one it leans on is answered, with no conversation's topic at all."""
    block = _block("out_of_scope", {"eligibility": 0.2, "registration": 0.05, "retirement": 0.12},
                   words=2, out_of_scope_p=0.4)
    decided = decide_in_context(block, None, OFFER, "fr", offered=["registration", "eligibility"])
    assert (decided.decision, decided.topic) == ("answer", "eligibility")
    # the most recent context: it comes before an older answer's topic
    decided = decide_in_context(block, "retirement", replace(OFFER, context_weight=0.3), "fr",
                                offered=["registration", "eligibility"])
    assert decided.topic == "eligibility"


def test_after_a_clarification_a_clear_question_elsewhere_or_out_of_scope_stays_itself():
    offered = ["registration", "eligibility"]
    elsewhere = _block("answer", {"payment_channels": 0.8, "eligibility": 0.05}, words=6, cue=False)
    decided = decide_in_context(elsewhere, None, OFFER, "fr", offered=offered)
    assert decided.topic == "payment_channels"
    weather = _block("out_of_scope", {"eligibility": 0.2}, words=5, cue=False, out_of_scope_p=0.95)
    assert decide_in_context(weather, None, OFFER, "fr", offered=offered) is None
    human = {**_block("intent", {}, words=3, cue=False), "label": "human_handoff"}
    assert decide_in_context(human, None, OFFER, "fr", offered=offered) is None
    off = replace(OFFER, offered_weight=0.0)
    assert decide_in_context(_block("out_of_scope", {"eligibility": 0.2}, words=2), None, off, "fr",
                             offered=offered) is None


def test_no_context_without_a_topic_a_weight_or_the_form_of_a_follow_up():
    block = _block("out_of_scope", {"eligibility": 0.05})
    assert decide_in_context(block, None, WEIGHTED, "fr") is None
    assert decide_in_context(block, "eligibility", replace(WEIGHTED, context_weight=0.0), "fr") is None
    long = {**block, "followup": {"cue": True, "words": 12}}
    assert decide_in_context(long, "eligibility", WEIGHTED, "fr") is None
    assert decide_in_context({**block, "out_of_scope_p": 0.95}, "eligibility", WEIGHTED, "fr") is None
    greeting = {**block, "decision": "intent", "label": "greet"}
    assert decide_in_context(greeting, "eligibility", WEIGHTED, "fr") is None


def test_the_weight_is_fitted_not_guessed():
    """bot/calibration.yml holds the fitted follow-up setting, with the figures it was fitted on."""
    import yaml

    from bot.nlu.decision import DEFAULT_CALIBRATION

    fitted = yaml.safe_load(DEFAULT_CALIBRATION.read_text(encoding="utf-8"))
    assert load_thresholds().context_weight > 0
    followups = fitted["fitted_on"]["followups"]
    assert followups["in_context"]["fragments"]["accuracy"] > followups["alone"]["fragments"]["accuracy"]
    # The weight after a clarification answered by typing: fitted, with the figures it gains.
    assert "offered_weight" in fitted["thresholds"]
    after = followups["after_clarification"]
    assert after["in_context"]["utility"] >= after["alone"]["utility"]


# ---- through the trained model ---------------------------------------------------------------

class Conversation:
    def __init__(self, system, fund: str):
        self.system, self.fund, self.sender = system, fund, f"test-{uuid.uuid4().hex}"

    def say(self, text: str) -> dict:
        replies = post_message(self.system.rasa.url, self.sender, text, self.fund)
        return next(r["custom"]["sanad"] for r in replies if (r.get("custom") or {}).get("sanad"))


class System:
    """The action server and a Rasa server on one tracker store; the Rasa server can be restarted."""

    def __init__(self, tmp):
        self.logs, self.tracker_db = tmp / "logs", tmp / "tracker.db"
        self.logs.mkdir()
        self.actions = services.action_server(log=self.logs / "actions.log")
        self.rasa = None

    def start_rasa(self) -> None:
        webhook = self.actions.health_url.rsplit("/", 1)[0] + "/webhook"
        self.rasa = services.rasa_server(training.model_path("sanad"), webhook, log=self.logs / "rasa.log",
                                         SANAD_TRACKER_DB=str(self.tracker_db)).start(180)

    def restart_rasa(self) -> None:
        self.rasa.stop()
        self.start_rasa()


@pytest.fixture(scope="module")
def system(trained_model, tmp_path_factory):
    running = System(tmp_path_factory.mktemp("followups"))
    running.actions.start()
    try:
        running.start_rasa()
        yield running
    finally:
        if running.rasa:
            running.rasa.stop()
        running.actions.stop()


@pytest.mark.model
@pytest.mark.parametrize("fund, first, follow_up", [
    ("cnss_ma", "est-ce qu'un commerçant est obligé de s'affilier à la cnss ?",
     "et pour un kinésithérapeute ?"),
    ("cnss_ma", "wach l bqal khasso ydir l'amo dyal tns?", "w ana 7ajjam?"),
    ("cnss_ma", "واش الخضار خاصو يتسجل فالضمان؟", "والنجار؟"),
    ("casnos_dz", "wach lazem el commerçant ysajal f casnos?", "w ana plombier?"),
    ("casnos_dz", "التاجر لازم يتسجل في الكاسنوس؟", "والفلاح تاني؟"),
])
def test_another_profession_after_eligibility_is_answered_from_eligibility(system, fund, first, follow_up):
    _answered_from_eligibility_after(system, fund, first, follow_up)


@pytest.mark.model
@pytest.mark.parametrize("fund, first, follow_up", [
    ("cnss_ma", "est-ce qu'un commerçant est obligé de s'affilier à la cnss ?",
     "et un réparateur de vélos qui travaille dans son garage ?"),
    ("cnss_ma", "wach l bqal khasso ydir l'amo dyal tns?", "w wa7ed kaybi3 l7out f lmarsa?"),
    ("cnss_ma", "واش الخضار خاصو يتسجل فالضمان؟", "والراجل لي كيبيع العطرية فالسوق الأسبوعي؟"),
    ("casnos_dz", "wach lazem el commerçant ysajal f casnos?", "w wa7ed yesle7 les vélos f garage ta3ou?"),
    ("casnos_dz", "التاجر لازم يتسجل في الكاسنوس؟", "والشيخ اللي يبيع العسل في الطريق؟"),
    ("casnos_dz", "هل يلزم التاجر بالانتساب إلى الكاسنوس؟", "وماذا عن صاحب ورشة إصلاح الدراجات؟"),
    ("casnos_dz", "does a shopkeeper have to join casnos?", "and a man who sells spices at the weekly market?"),
    ("cnss_ma", "est-ce qu'un commerçant est obligé de s'affilier à la cnss ?",
     "et moi je suis à mon compte comme électricien ?"),  # self-employed, said the French way
])
def test_a_person_described_at_length_after_eligibility_is_answered_from_eligibility(system, fund, first,
                                                                                      follow_up):
    """Past the gate of words of content, the person probe lets these through (issue 20: the
    second held-out set's misses were professions of three to six words)."""
    _answered_from_eligibility_after(system, fund, first, follow_up)


def _answered_from_eligibility_after(system, fund: str, first: str, follow_up: str) -> None:
    chat = Conversation(system, fund)
    assert chat.say(first)["topic"] == "eligibility"
    decision = chat.say(follow_up)
    assert (decision["decision"], decision.get("topic")) == ("answer", "eligibility"), decision


@pytest.mark.model
@pytest.mark.parametrize("fund, follow_up", [("cnss_ma", "et le prix du ciment au marché cette semaine ?"),
                                             ("casnos_dz", "w match ta3 ce soir wa9tach ybda?")])
def test_a_thing_out_of_scope_after_eligibility_is_not_answered_from_it(system, fund, follow_up):
    chat = Conversation(system, fund)
    assert chat.say("qui doit obligatoirement cotiser au régime des non salariés ?")["topic"] == "eligibility"
    assert chat.say(follow_up).get("topic") != "eligibility"


@pytest.mark.model
def test_a_follow_up_naming_another_topic_switches(system):
    chat = Conversation(system, "cnss_ma")
    assert chat.say("comment est calculé le montant de la cotisation tns ?")["topic"] == "contribution_amount"
    assert chat.say("et on la paie où ?").get("topic") == "payment_channels"


@pytest.mark.model
@pytest.mark.parametrize("fund, first, first_topic, follow_up, topic", [
    ("cnss_ma", "comment est calculé le montant de la cotisation tns ?", "contribution_amount",
     "et où ça ?", "payment_channels"),
    ("cnss_ma", "ch7al khassni nkhelles l cnss kol chhar?", "contribution_amount", "w fin nkhelssha?",
     "payment_channels"),
    ("casnos_dz", "comment s'inscrire à la casnos quand on ouvre un commerce ?", "registration",
     "et quand ?", "contribution_deadline"),
    # After "must I join?", "where?" and a bare "how?" ask where and how to join.
    ("cnss_ma", "est-ce qu'un commerçant est obligé de s'affilier à la cnss ?", "eligibility",
     "et il fait comment ?", "registration"),
    ("casnos_dz", "التاجر لازم يتسجل في الكاسنوس؟", "eligibility", "ووين؟", "registration"),
    ("casnos_dz", "does a shopkeeper have to join casnos?", "eligibility", "and where do I go?", "registration"),
    # "ok, et quels papiers ?": the interjection hid the cue.
    ("casnos_dz", "un fleuriste doit-il s'affilier à la casnos ?", "eligibility", "ok, et quels papiers ?",
     "registration"),
    # The question phrase is not counted as content: "how many days do I have?" is short enough.
    ("casnos_dz", "how do I sign up with casnos after opening my shop?", "registration", "how many days do I have?",
     "registration"),
    # "Is it mandatory?" after a pension answer: the pension's (retirement covers "voluntary or mandatory").
    ("cnss_ma", "comment est calculée la pension de retraite des indépendants ?", "retirement",
     "et c'est obligatoire ?", "retirement"),
    ("casnos_dz", "kifach y7esbou la retraite f casnos?", "retirement", "w hiya obligatoire wela la?", "retirement"),
    ("cnss_ma", "comment est calculée la pension de retraite des indépendants ?", "retirement", "c obligatoire ?",
     "retirement"),  # no cue: answered alone from "obligatoire" only
    # After the waiting period, "how much (time)?" is how long the wait is, not the contribution.
    ("casnos_dz", "khalast l casnos w la carte chifa mazal ma khedmatch", "waiting_period", "w 9adach nestanna?",
     "waiting_period"),
    # ...and "how soon?" how soon to join.
    ("casnos_dz", "do tilers working alone have to sign up with casnos?", "eligibility", "how soon?", "registration"),
    ("cnss_ma", "wach lbennay khasso ytsejjel f cnss?", "eligibility", "w imta?", "registration"),
])
def test_a_question_word_follow_up_goes_to_its_aspect(system, fund, first, first_topic, follow_up, topic):
    chat = Conversation(system, fund)
    assert chat.say(first)["topic"] == first_topic
    decision = chat.say(follow_up)
    assert (decision["decision"], decision.get("topic")) == ("answer", topic), decision


@pytest.mark.model
def test_the_context_does_not_leak_into_another_conversation(system):
    first, second = Conversation(system, "cnss_ma"), Conversation(system, "cnss_ma")
    question = "qui doit obligatoirement cotiser au régime des non salariés ?"
    assert first.say(question)["topic"] == "eligibility"
    assert second.say("et pour un kinésithérapeute ?").get("topic") != "eligibility"
    assert first.say("et pour un kinésithérapeute ?").get("topic") == "eligibility"


@pytest.mark.model
def test_the_context_expires_after_a_few_turns(system):
    chat = Conversation(system, "cnss_ma")
    assert chat.say("qui doit obligatoirement cotiser au régime des non salariés ?")["topic"] == "eligibility"
    for _ in range(3):
        chat.say("bonjour")
    assert chat.say("et pour un kinésithérapeute ?").get("topic") != "eligibility"


@pytest.mark.model
def test_a_follow_up_after_a_restart_of_the_rasa_server(system):
    chat = Conversation(system, "casnos_dz")
    assert chat.say("wach lazem el commerçant ysajal f casnos?")["topic"] == "eligibility"
    system.restart_rasa()
    decision = chat.say("w ana plombier?")
    assert (decision["decision"], decision.get("topic")) == ("answer", "eligibility"), decision


@pytest.mark.model
@pytest.mark.parametrize("fund, first, follow_up, lang", [
    ("cnss_ma", "شحال خاصني نخلص فالضمان كل شهر؟", "وفين نخلصهم؟", "ary"),
    ("cnss_ma", "واش الخضار خاصو يتسجل فالضمان؟", "والنجار؟", "ary"),
    ("casnos_dz", "التاجر لازم يتسجل في الكاسنوس؟", "والطبيب؟", "arq"),
])
def test_a_darija_conversation_stays_in_darija_on_a_short_follow_up(system, fund, first, follow_up, lang):
    """Two Arabic-script words without a Darija marker read as MSA alone; in a conversation
    answered in Darija they are answered in Darija (issue 20: the variety changed mid-conversation)."""
    chat = Conversation(system, fund)
    assert chat.say(first)["lang"] == lang
    decision = chat.say(follow_up)
    assert decision["decision"] == "answer" and decision["lang"] == lang, decision


@pytest.mark.model
@pytest.mark.parametrize("fund, word, chosen, follow_up", [
    ("casnos_dz", "التقاعد", "retirement", "كم من سنة يلزمني؟"),
    ("casnos_dz", "retraite", "retirement", "wach lazem ndir 15 3am?"),
])
def test_a_question_after_a_clarification_choice_stays_on_the_chosen_topic(system, fund, word, chosen, follow_up):
    """Alone, the question is clarified between eligibility and retirement; right after the
    citizen chose retirement on a clarification's button, it is answered from retirement."""
    alone = Conversation(system, fund).say(follow_up)
    assert alone["decision"] == "clarify" and chosen in alone["offered"], alone
    chat = Conversation(system, fund)
    chat.say(word)
    assert chat.say(f'/choose_topic{{"topic":"{chosen}"}}')["topic"] == chosen
    decision = chat.say(follow_up)
    assert (decision["decision"], decision.get("topic")) == ("answer", chosen), decision


@pytest.mark.model
@pytest.mark.parametrize("fund, word, chosen, question", [
    ("casnos_dz", "التسجيل", "registration", "فتحت محلا لبيع الملابس الأسبوع الماضي ولم أقم بأي إجراء بعد، ماذا أفعل؟"),
    ("casnos_dz", "cotisation", "contribution_amount", "je suis couturière à domicile, ça me revient à quoi par an ?"),
    # Whether it is mandatory, right after choosing the pension: the pension's own question.
    ("cnss_ma", "retraite", "retirement", "c'est obligatoire pour moi ou je peux choisir ?"),
    ("casnos_dz", "التقاعد", "retirement", "هل هو إجباري؟"),
])
def test_the_message_right_after_a_choice_is_read_on_the_chosen_topic(system, fund, word, chosen, question):
    """A question with no form of a follow-up (long, no cue), which alone is not answered from the
    topic the citizen has just chosen on a clarification's button, is answered from it right after
    the choice (the fitted `choice_weight`)."""
    alone = Conversation(system, fund).say(question)
    assert alone.get("topic") != chosen, alone
    chat = Conversation(system, fund)
    chat.say(word)
    assert chat.say(f'/choose_topic{{"topic":"{chosen}"}}')["topic"] == chosen
    decision = chat.say(question)
    assert (decision["decision"], decision.get("topic")) == ("answer", chosen), decision
