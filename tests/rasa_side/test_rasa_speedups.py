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


def keep_rasas_request(monkeypatch) -> None:
    """What install() replaces of Rasa's HTTP calls, put back after the test."""
    import rasa.core.run
    from rasa.utils.endpoints import EndpointConfig

    monkeypatch.setattr(EndpointConfig, "request", EndpointConfig.request)
    monkeypatch.setattr(rasa.core.run, "close_resources", rasa.core.run.close_resources)


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    keep_rasas_request(monkeypatch)
    rasa_speedups.install()
    return RemoteAction("action_answer_faq", None)


def test_the_entry_point_installs_them():
    source = open(rasa_speedups.__file__.replace("rasa_speedups.py", "rasa_entry.py")).read()
    assert "rasa_speedups.install()" in source


def test_the_servers_stop_closes_the_kept_sessions(installed):
    import rasa.core.run

    assert rasa.core.run.close_resources.__name__ == "close_resources_and_sessions"


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


# --- calls to the action server on kept connections ------------------------------------------------

@pytest.fixture
async def action_server():
    """A web server on a loopback port that records, per request, the client's port and query."""
    from aiohttp import web

    seen = []

    async def webhook(request):
        seen.append((request.transport.get_extra_info("peername")[1], dict(request.query)))
        body = await request.json()
        if body.get("fail"):
            return web.Response(status=500, text="boom")
        if body.get("plain"):
            return web.Response(text="not json")
        return web.json_response({"events": [], "responses": [{"text": body["text"]}]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/webhook", seen
    await runner.cleanup()


@pytest.fixture
def kept_connections(monkeypatch):
    keep_rasas_request(monkeypatch)
    rasa_speedups.keep_endpoint_connections()


async def test_action_calls_share_one_connection_with_rasas_results(action_server, kept_connections):
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    url, seen = action_server
    endpoint = EndpointConfig(url, token="secret")
    for n in range(5):
        reply = await endpoint.request(json={"text": f"réponse {n}"}, method="post", timeout=30)
        assert reply == {"events": [], "responses": [{"text": f"réponse {n}"}]}
    assert len({port for port, _ in seen}) == 1  # Rasa's own request: 5 connections
    assert all(query == {"token": "secret"} for _, query in seen)
    with pytest.raises(ClientResponseError) as failed:
        await endpoint.request(json={"fail": True}, method="post")
    assert failed.value.status == 500
    assert await endpoint.request(json={"plain": True}, method="post") is None
    await rasa_speedups.close_endpoint_sessions()  # what the server's stop does (close_resources)
    assert await endpoint.request(json={"text": "encore"}, method="post") == {"events": [], "responses": [{"text": "encore"}]}
    assert len({port for port, _ in seen}) == 2  # closed at the server's stop; a new one after
    await rasa_speedups.close_endpoint_sessions()


async def test_rasas_own_request_opens_a_connection_per_call(action_server):
    """What the kept connections replace (so the test above can fail)."""
    from rasa.utils.endpoints import EndpointConfig

    url, seen = action_server
    assert not getattr(EndpointConfig.request, "keeps_connections", False)
    for _ in range(3):
        await EndpointConfig(url).request(json={"text": "x"}, method="post")
    assert len({port for port, _ in seen}) == 3


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
