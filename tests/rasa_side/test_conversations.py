"""Conversations through the real trained model: the Rasa server and the action server run as
processes, and the test talks to Rasa's REST channel over HTTP, as the gateway does."""
import asyncio
import json
import re
import urllib.error
import urllib.request
import uuid

import pytest

from bot.tooling import services
from bot.tooling.run import post_message
from tests.rasa_side import stack as system

pytestmark = pytest.mark.model
ARABIC = re.compile("[\u0600-\u06ff]")
CNSS_ONLY = ("3939", "macnss", "cnss.ma", "AMO")


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory):
    yield from system.start(tmp_path_factory.mktemp("conversations"))


@pytest.fixture(scope="module")
def rasa_url(stack):
    return stack.rasa_url


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


@pytest.mark.parametrize("question, topics", [
    ("je suis à mon compte, je dois m'affilier ?", {"eligibility", "registration"}),
    ("je me suis mis à mon compte l'an dernier, la cnss c'est obligatoire pour moi ?", {"eligibility"}),
    ("je bosse a mon compte comme photographe, je paie combien par mois ?", {"contribution_amount"}),
])
def test_self_employed_said_the_french_way_is_not_a_balance_request(rasa_url, question, topics):
    """"À mon compte" is how French says self-employed; it went to the balance form at 0.99."""
    chat = Chat(rasa_url, "cnss_ma")
    decision = chat.decision(chat.say(question))
    assert decision["decision"] != "account_balance", decision
    offered = {decision.get("topic")} | set(decision.get("offered") or [])
    assert offered & topics, decision


def test_how_long_one_has_to_register_is_not_a_balance_request(rasa_url):
    """"J'ai combien" of days, not of money: it went to the balance form (bot/nlu/decision.py)."""
    chat = Chat(rasa_url, "casnos_dz")
    decision = chat.decision(chat.say("combien de temps j'ai pour m'inscrire à la casnos après avoir eu mon registre ?"))
    assert decision["decision"] != "account_balance", decision
    assert "registration" in {decision.get("topic")} | set(decision.get("offered") or []), decision
    assert chat.decision(chat.say("combien de mois de retard j'ai sur mon compte casnos ?"))["decision"] == "account_balance"


@pytest.mark.parametrize("question", [
    "je voudrais consulter mon compte cnss, il me reste combien à payer ?",
    "situation de mon compte tns svp",
])
def test_the_fund_account_is_still_a_balance_request(rasa_url, question):
    chat = Chat(rasa_url, "cnss_ma")
    assert chat.decision(chat.say(question))["decision"] == "account_balance"


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


# ---- what the dialogue does not expect: one reply, and the conversation goes on (issue 14) ----

FAQ = "ou est ce que je peux payer ma cotisation cnss sans me deplacer"


def decisions(replies):
    """One entry per reply the actions gave (each carries its machine-readable part)."""
    return [r["custom"]["sanad"]["decision"] for r in replies if (r.get("custom") or {}).get("sanad")]


def answers_the_next_question(chat):
    decision = system.Chat.decision(chat.say(FAQ))
    assert (decision["decision"], decision["topic"]) == ("answer", "payment_channels"), decision


UNEXPECTED = [  # message, its metadata, the one reply expected
    # Telegram delivers a contact whenever the citizen shares one: it used to get the refusal ten
    # times (the fallback action up to Rasa's action limit), then no answer ever again.
    ("/share_contact", {"shared_phone": "+212600000101"}, "unexpected"),
    # A button of an old clarification still answers its topic; a forged one is declined.
    ('/choose_topic{"topic":"retirement"}', {}, "answer"),
    ('/choose_topic{"topic":"not_a_topic"}', {}, "out_of_scope"),
    # A payload for an intent the domain does not know is read as text, and declined.
    ("/an_intent_the_domain_does_not_know", {}, "out_of_scope"),
]


@pytest.mark.parametrize("message, metadata, reply", UNEXPECTED)
def test_a_message_the_dialogue_does_not_expect_gets_one_reply_then_questions_are_answered(
        stack, message, metadata, reply):
    chat = system.Chat(stack.rasa_url, "cnss_ma")
    answers_the_next_question(chat)  # the button's clarification was long ago
    assert decisions(chat.say(message, **metadata)) == [reply]
    answers_the_next_question(chat)


@pytest.mark.parametrize("message, metadata, reply", UNEXPECTED)
def test_during_the_balance_form_it_gets_one_reply_then_the_form_asks_again_and_goes_on(
        stack, message, metadata, reply):
    chat = system.Chat(stack.rasa_url, "cnss_ma")
    assert chat.decision(chat.say("je veux connaitre mon solde cnss"))["step"] == "affiliate_number"
    replies = chat.say(message, **metadata)
    assert decisions(replies) == [reply, "account_balance"]
    assert replies[-1]["custom"]["sanad"]["step"] == "affiliate_number"
    assert chat.decision(chat.say("100 204 821"))["step"] == "birth_date"  # the form goes on
    assert decisions(chat.say(message, **metadata)) == [reply, "account_balance"]
    assert decisions(chat.say("annuler")) == ["cancel"]
    answers_the_next_question(chat)


def test_a_shared_contact_is_told_why_in_the_conversation_language(stack):
    chat = system.Chat(stack.rasa_url, "casnos_dz")
    chat.say("السلام عليكم")
    replies = chat.say("/share_contact", shared_phone="+213550000101")
    assert decisions(replies) == ["unexpected"]
    text = system.Chat.text(replies)
    assert ARABIC.search(text) and "+213550000101" not in text


# ---- Rasa's REST channel: a malformed request is refused with 400, saying why (issue 14) ----

def post_raw(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def message(text, **extra) -> bytes:
    return json.dumps({"sender": f"test-{uuid.uuid4().hex}", "message": text, **extra}).encode()


MALFORMED = {
    "empty body": b'""', "a list": b"[]", "null": b"null", "not JSON": b"{oops",
    "no sender": json.dumps({"message": "bonjour"}).encode(),
    "a number as sender": json.dumps({"sender": 12, "message": "bonjour"}).encode(),
    "no message": json.dumps({"sender": "someone"}).encode(),
    "a number as message": message(5),
    "an empty message": message(""), "only spaces": message("  \n\t "),
    "a lone surrogate": message("bonjour \ud800"),
    "metadata not an object": message("bonjour", metadata=["cnss_ma"]),
    "an unknown fund": message("bonjour", metadata={"fund": "cnss_fr"}),
}


def test_a_malformed_request_is_refused_with_400_and_no_traceback(stack):
    """Rasa's RestInput answered 500 to "", [] and null (AttributeError, traceback in the log);
    empty, blank and surrogate messages raised in the NLU and an unknown fund in the actions, each
    a 200 with no reply."""
    log = stack.logs / "rasa.log"
    logged_before = log.stat().st_size
    for case, body in MALFORMED.items():
        status, answer = post_raw(stack.rasa_url, body)
        assert status == 400 and isinstance(answer.get("error"), str) and answer["error"], case
    status, answer = post_raw(stack.rasa_url, message("bonjour", metadata={"fund": "casnos_dz"}))
    assert status == 200 and decisions(answer) == ["greet"]
    # Only invisible characters (the gateway lets a zero-width space through): a reply asks for text.
    status, answer = post_raw(stack.rasa_url, message("\u200b\ufeff", metadata={"fund": "cnss_ma"}))
    assert status == 200 and decisions(answer) == ["unexpected"]
    assert answer[0]["text"].startswith("Je n'ai rien pu lire dans votre message")
    with log.open("rb") as handle:
        handle.seek(logged_before)
        written = handle.read().decode("utf-8", "replace")
    assert "Traceback" not in written and "ERROR" not in written, written[-2000:]


# ---- the NLU never raises on a message with nothing to read; the dialogue answers it ----------

@pytest.fixture(scope="module")
def agent(stack):
    """The trained model in this process, its actions run by the stack's action server: Rasa's
    REST channel refuses unreadable messages, its other entry points (HTTP API, `sanad ask`, the
    agents' assist route) hand them to the NLU."""
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    from bot.tooling import training

    token = services.shared_secret("SANAD_ACTIONS_TOKEN")
    action = EndpointConfig(f"{stack.actions_url}/webhook", headers={"Authorization": f"Bearer {token}"})
    loop = asyncio.new_event_loop()
    loaded = loop.run_until_complete(load_agent(model_path=str(training.model_path("sanad")),
                                                endpoints=AvailableEndpoints(action=action)))
    yield loaded, loop
    loop.close()


@pytest.mark.parametrize("text", ["", "   ", "\u200b", "\ud800", "\x00"])
def test_a_message_with_nothing_to_read_is_parsed_and_answered_in_the_conversation_language(agent, text):
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    loaded, loop = agent
    sender = f"test-{uuid.uuid4().hex}"

    def say(words):
        message = UserMessage(words, CollectingOutputChannel(), sender, metadata={"fund": "cnss_ma"})
        return loop.run_until_complete(loaded.handle_message(message))

    parse = loaded.processor.parse_message(UserMessage(text, metadata={"fund": "cnss_ma"}))
    parsed = loop.run_until_complete(parse)
    assert parsed["intent"]["name"] == "unreadable"
    say("السلام عليكم")
    replies = say(text)
    assert decisions(replies) == ["unexpected"] and ARABIC.search(replies[0]["text"])
    assert decisions(say(FAQ)) == ["answer"]


def test_a_lone_surrogate_inside_a_question_does_not_stop_its_answer(agent):
    loaded, loop = agent
    from rasa.core.channels.channel import UserMessage

    parsed = loop.run_until_complete(loaded.processor.parse_message(
        UserMessage(FAQ + " \ud800", metadata={"fund": "cnss_ma"})))
    assert (parsed["sanad"]["decision"], parsed["sanad"]["topic"]) == ("answer", "payment_channels")


def test_a_long_conversation_keeps_its_context_its_form_and_every_event(stack):
    """Rasa reads only the recent events of a long conversation (bot/redaction.py recent_window):
    after fifteen questions a follow-up still leans on the last answer, the balance form still
    runs and can be cancelled, and every message is stored, redacted."""
    import sqlite3

    chat = system.Chat(stack.rasa_url, "cnss_ma")
    questions = ["ou payer ma cotisation cnss ?", "c'est quoi le numero de telephone de la cnss ?",
                 "a quel age on part a la retraite ?"]
    for i in range(15):
        assert chat.decision(chat.say(questions[i % 3]))["decision"] == "answer"
    assert chat.decision(chat.say("qui doit obligatoirement cotiser au régime des non salariés ?"))["topic"] == "eligibility"
    assert chat.decision(chat.say("et pour un kinésithérapeute ?"))["topic"] == "eligibility"
    assert chat.decision(chat.say("je veux connaitre mon solde cnss"))["step"] == "affiliate_number"
    assert chat.decision(chat.say("100 204 821"))["step"] == "birth_date"
    assert decisions(chat.say("annuler")) == ["cancel"]
    with sqlite3.connect(stack.tracker_db) as connection:
        users = [json.loads(data)["text"] for (data,) in connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (chat.sender,))]
    assert len(users) == 20 and users[:3] == questions
    assert "100 204 821" not in users and "[redacted]" in users
