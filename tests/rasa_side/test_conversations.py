"""Conversations through the real trained model: the Rasa server and the action server run as
processes, and the test talks to Rasa's REST channel over HTTP, as the gateway does."""
import re
import uuid

import pytest

from bot import services
from bot.run import post_message

pytestmark = pytest.mark.model
ARABIC = re.compile("[\u0600-\u06ff]")
CNSS_ONLY = ("3939", "macnss", "cnss.ma", "AMO")


@pytest.fixture(scope="module")
def rasa_url(trained_model, tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    actions = services.action_server(log=logs / "actions.log")
    rasa = services.rasa_server(trained_model, actions.health_url.rsplit("/", 1)[0] + "/webhook", log=logs / "rasa.log")
    with services.running(actions, rasa):
        yield rasa.url


class Chat:
    def __init__(self, url, fund):
        self.url, self.fund, self.sender = url, fund, f"test-{uuid.uuid4().hex}"

    def say(self, text):
        replies = post_message(self.url, self.sender, text, self.fund)
        assert replies, f"no reply to {text!r}"
        return replies

    @staticmethod
    def decision(replies):
        return next(r["custom"]["sanad"] for r in replies if (r.get("custom") or {}).get("sanad"))


def test_faq_answer_in_french_with_its_source(rasa_url):
    chat = Chat(rasa_url, "cnss_ma")
    replies = chat.say("ou est ce que je peux payer ma cotisation cnss sans me deplacer")
    decision = chat.decision(replies)
    assert decision["decision"] == "answer" and decision["topic"] == "payment_channels"
    assert decision["lang"] == "fr" and decision["sources"]
    texts = [r["text"] for r in replies if r.get("text")]
    assert "bpc-payement" in texts[0] and texts[1].startswith("Source :")


def test_arabic_question_gets_an_arabic_answer(rasa_url):
    chat = Chat(rasa_url, "casnos_dz")
    replies = chat.say("ما هو سن التقاعد بالنسبة لغير الأجراء؟")
    decision = chat.decision(replies)
    assert (decision["topic"], decision["lang"]) == ("retirement", "ar")
    assert len(ARABIC.findall(replies[0]["text"])) > 50 and replies[1]["text"].startswith("المصدر")


def test_darija_in_arabic_script_gets_darija(rasa_url):
    chat = Chat(rasa_url, "cnss_ma")
    decision = chat.decision(chat.say("فين نقدر نخلص الضمان ديالي بلا ما نمشي للوكالة؟"))
    assert (decision["topic"], decision["lang"]) == ("payment_channels", "ary")


def test_arabizi_gets_a_french_answer(rasa_url):
    chat = Chat(rasa_url, "cnss_ma")
    replies = chat.say("kifach nkhelles la cotisation dyal l amo online")
    decision = chat.decision(replies)
    assert (decision["topic"], decision["lang"]) == ("payment_channels", "fr")


@pytest.mark.parametrize("question", [
    "ou payer ma cotisation",
    "quel est le numero de telephone pour appeler",
    "combien je dois payer par mois pour l'assurance maladie",
    "les dettes sont elles annulees",
])
def test_casnos_deployment_never_answers_with_cnss_facts(rasa_url, question):
    chat = Chat(rasa_url, "casnos_dz")
    replies = chat.say(question)
    text = " ".join(r.get("text", "") for r in replies)
    assert not any(marker in text for marker in CNSS_ONLY), text


def test_out_of_scope_declines_and_gives_the_official_channels(rasa_url):
    chat = Chat(rasa_url, "cnss_ma")
    replies = chat.say("donne moi une recette de tajine aux pruneaux")
    assert chat.decision(replies)["decision"] == "out_of_scope"
    assert "3939" in replies[0]["text"]
    # The reply introduces the fund's channels itself: the channels text must not say it again.
    assert replies[0]["text"].count("Pour parler à quelqu'un") == 1, replies[0]["text"]


def test_human_handoff_is_honest_about_the_transfer(rasa_url):
    chat = Chat(rasa_url, "casnos_dz")
    replies = chat.say("je veux parler a un conseiller s'il vous plait")
    assert chat.decision(replies)["decision"] == "human_handoff"
    text = replies[0]["text"]
    assert "pas encore" in text and "damancom" in text.lower()


def test_balance_request_is_never_answered_from_the_knowledge_base(rasa_url):
    chat = Chat(rasa_url, "cnss_ma")
    decision = chat.decision(chat.say("combien je dois a la cnss exactement sur mon compte"))
    assert decision["decision"] == "account_balance" and "sources" not in decision


def test_greeting_in_arabic(rasa_url):
    chat = Chat(rasa_url, "cnss_ma")
    replies = chat.say("السلام عليكم")
    assert chat.decision(replies)["decision"] == "greet"
    assert ARABIC.search(replies[0]["text"])


# One or two words: the assistant cannot know which topic is meant. Which of them the trained
# model clarifies can move with retraining; at least one must.
VAGUE = ["التغطية", "الامو", "الضمان الاجتماعي", "التأمين"]


def test_clarification_buttons_answer_in_the_conversation_language(rasa_url):
    for text in VAGUE:
        chat = Chat(rasa_url, "cnss_ma")
        replies = chat.say(text)
        decision = chat.decision(replies)
        if decision["decision"] == "clarify":
            break
    else:
        pytest.fail(f"none of {VAGUE} led to a clarification")
    # One or two Arabic-script words can be MSA or Moroccan Darija ("الامو"); either way the
    # answer behind the button keeps the language the clarification was asked in.
    lang = decision["lang"]
    assert len(decision["offered"]) >= 1 and lang in ("ar", "ary")
    buttons = replies[0]["buttons"]
    assert buttons[0]["payload"].startswith("/choose_topic")
    chosen = decision["offered"][0]
    answer = chat.decision(chat.say(buttons[0]["payload"]))
    assert (answer["decision"], answer["topic"], answer["lang"]) == ("answer", chosen, lang)


def test_forged_button_payload_cannot_reach_another_topic_or_fund(rasa_url):
    chat = Chat(rasa_url, "casnos_dz")
    decision = chat.decision(chat.say('/choose_topic{"topic":"not_a_topic"}'))
    assert decision["decision"] == "out_of_scope"


def test_a_very_long_message_is_answered(rasa_url):
    chat = Chat(rasa_url, "cnss_ma")
    replies = chat.say("je voudrais savoir comment payer la cnss " * 300)
    assert chat.decision(replies)["decision"] in ("answer", "clarify", "out_of_scope")


@pytest.mark.parametrize("probe", ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "'; DROP TABLE users; --"])
def test_markup_and_injection_probes_are_never_answered_as_a_topic(rasa_url, probe):
    """"<script>" once got the registration answer: its n-grams resemble "inscription"."""
    chat = Chat(rasa_url, "cnss_ma")
    assert chat.decision(chat.say(probe))["decision"] in ("out_of_scope", "clarify")


def test_a_question_wrapped_in_markup_is_answered_as_the_question(rasa_url):
    chat = Chat(rasa_url, "cnss_ma")
    decision = chat.decision(chat.say("<p>ou est ce que je peux payer ma cotisation cnss sans me deplacer</p>"))
    assert (decision["decision"], decision["topic"]) == ("answer", "payment_channels")


@pytest.mark.parametrize("text", ["AMO", "الامو", "la CNSS ?", "الضمان الاجتماعي", "assurance maladie obligatoire"])
def test_a_message_that_only_names_the_fund_is_never_refused(rasa_url, text):
    """A citizen who types only the fund's name asked about the fund: a topic menu or an answer,
    never "I can only answer questions about the fund"."""
    chat = Chat(rasa_url, "cnss_ma")
    replies = chat.say(text)
    decision = chat.decision(replies)
    assert decision["decision"] in ("clarify", "answer"), decision
    if decision["decision"] == "clarify":
        assert len(replies[0]["buttons"]) >= 2
