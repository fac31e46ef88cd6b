"""Per-turn work Rasa repeats, done once per process (bot/rasa_speedups.py), with the same results."""
import copy

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot import rasa_speedups

ORIGINAL = RemoteAction._validate_action_result
GOOD = {"events": [{"event": "slot", "name": "topic", "value": "payment"}],
        "responses": [{"text": "Vous pouvez payer...", "custom": {"sanad": {"decision": "answer"}}}]}
BAD = [{"events": "not a list"}, {"events": [{"event": 3}]}, {"events": [{"name": "x"}]}, [], "text"]


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    rasa_speedups.install()
    return RemoteAction("action_answer_faq", None)


def test_the_entry_point_installs_them():
    source = open(rasa_speedups.__file__.replace("rasa_speedups.py", "rasa_entry.py")).read()
    assert "rasa_speedups.install()" in source


def test_action_replies_are_validated_as_rasa_does(installed):
    assert RemoteAction._validate_action_result is rasa_speedups.validate_action_result
    assert installed._validate_action_result(copy.deepcopy(GOOD)) is True
    for bad in BAD:
        with pytest.raises(jsonschema.ValidationError) as ours:
            installed._validate_action_result(copy.deepcopy(bad))
        with pytest.raises(jsonschema.ValidationError) as rasas:
            ORIGINAL(installed, copy.deepcopy(bad))
        assert ours.value.message == rasas.value.message and "Failed to validate Action server" in ours.value.message


def test_the_schema_is_checked_once_per_process(installed, monkeypatch):
    installed._validate_action_result(GOOD)  # the validator is built (and its schema checked) here
    checks = []
    for cls in {jsonschema.validators.validator_for(RemoteAction.action_response_format_spec())}:
        check = cls.check_schema
        monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s, *a, **k: checks.append(s) or check(s)))
    for _ in range(20):
        installed._validate_action_result(GOOD)
    assert checks == []


# --- the parse cache: a repeated question is parsed once per process --------------------------------

def test_what_may_be_kept_and_what_never_is():
    key = rasa_speedups.parse_cache_key
    assert key("combien je paie ?", {"fund": "cnss_ma"}, True) == ("combien je paie ?", "cnss_ma", True)
    assert key("combien je paie ?", None, True) != key("combien je paie ?", {"fund": "casnos_dz"}, True)
    for personal in ("mon numéro 123456789", "né le 12/03/1980", "code ١٢٣٤٥٦", "ana tzadt 12 mars 1980"):
        assert key(personal, None, True) is None, personal
    for other in ('/inform{"affiliate_number": "1"}', " /greet", "", "   ", None, 42, "a" * 301):
        assert key(other, None, True) is None, other


def test_the_cache_forgets_the_least_recently_used_and_hands_out_copies():
    cache = rasa_speedups.ParseCache(2)
    cache.put("a", {"intent": {"name": "x"}})
    cache.put("b", {"intent": {"name": "y"}})
    assert cache.get("a") == {"intent": {"name": "x"}}  # "a" used last: "b" goes first
    cache.put("c", {"intent": {"name": "z"}})
    assert cache.get("b") is None and len(cache) == 2
    cache.get("a")["intent"]["name"] = "edited by a caller"
    assert cache.get("a") == {"intent": {"name": "x"}}
    assert (cache.hits, cache.misses) == (3, 1)


@pytest.fixture(scope="module")
def processor(trained_model):
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor._parse_message_with_graph
    rasa_speedups.cache_parses()
    agent = Agent.load(str(trained_model))
    yield agent.processor
    MessageProcessor._parse_message_with_graph = original


@pytest.fixture
def graph_runs(processor, monkeypatch):
    runs = []
    run = processor.graph_runner.run
    monkeypatch.setattr(processor.graph_runner, "run", lambda *a, **k: runs.append(1) or run(*a, **k))
    monkeypatch.setattr(processor, "_sanad_parse_cache", None, raising=False)  # every test: an empty cache
    return runs


def parse(processor, text, fund="cnss_ma"):
    import asyncio

    from rasa.core.channels.channel import UserMessage

    return asyncio.run(processor.parse_message(UserMessage(text, metadata={"fund": fund})))


@pytest.mark.model
def test_a_repeated_question_runs_the_nlu_once_with_the_same_parse(processor, graph_runs):
    first = parse(processor, "Où puis-je payer mes cotisations ?")
    first["sanad"]["decision"] = "edited by Rasa downstream"
    again = parse(processor, "Où puis-je payer mes cotisations ?")
    assert len(graph_runs) == 1
    assert (again["sanad"]["decision"], again["sanad"]["topic"]) == ("answer", "payment_channels")
    assert again["intent"] == first["intent"] and again["text"] == "Où puis-je payer mes cotisations ?"


@pytest.mark.model
def test_personal_data_other_funds_and_a_disabled_cache_go_through_the_nlu(processor, graph_runs, monkeypatch):
    for _ in range(2):
        parse(processor, "mon numéro est 123456789")
    assert len(graph_runs) == 2
    parse(processor, "combien je paie ?", "cnss_ma")
    parse(processor, "combien je paie ?", "casnos_dz")
    assert len(graph_runs) == 4
    monkeypatch.setattr(processor, "_sanad_parse_cache", None, raising=False)
    monkeypatch.setenv("SANAD_PARSE_CACHE", "0")
    for _ in range(2):
        parse(processor, "salam")
    assert len(graph_runs) == 6
