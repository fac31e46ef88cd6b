"""Work Rasa 3.6 does on every turn that needs doing once per process (measured with py-spy on
the Rasa server under 10 concurrent citizens, issue 18; docs/benchmarks.md).

- Each action server reply is checked against Rasa's response schema with `jsonschema.validate`,
  which first checks the schema itself against its meta-schema: 17% of the server's CPU. The
  validator is now built, and its schema checked, once; every reply is still validated in full.
- A stored event's class is looked up by walking every subclass of `Event` (with an
  `inspect.isabstract` check each) for every event read back: about 70% of the time to load a
  conversation, which every turn does. Each type name's class is remembered once found.

- The same question is parsed again and again: at a deadline's peak thousands of citizens send
  "combien je paie ?" or "salam" word for word, and each parse runs the e5 forward pass, DIET and
  the knowledge ranking (the NLU graph: about 28 ms of one core). A parse depends only on the
  text and the fund (bot/nlu/components.py: nothing of the conversation; the context of a
  follow-up is applied by the actions), so the last SANAD_PARSE_CACHE (default 2048, 0: off)
  distinct texts' parses are kept per process and per loaded model, and copied out on a repeat.
  Texts with personal data (what bot/masking.py masks), intent payloads ("/inform{...}") and long
  texts are never kept.

- Each call to the action server opened a new aiohttp session, connector and TCP connection
  (`EndpointConfig.request` in Rasa 3.6), and closed them after the reply: ~0.5 ms of CPU and ~2 ms
  of waiting per call on this machine. Each endpoint now keeps one session per event loop, its
  connections kept alive between calls for less time than the action server keeps them (so a
  connection is never reused just as the server closes it), and closed when the server stops.

`install()` is called by `bot.rasa_entry` before Rasa starts; the redacting tracker store also
remembers event classes on import (any process reading the store)."""
from __future__ import annotations

import collections
import copy
import functools
import os
import threading
import weakref
from typing import Any, Dict, Hashable, Optional, Text, Tuple

from rasa.shared.core.events import Event


def remember_event_classes() -> None:
    """`Event.resolve_by_type` with each type name's class remembered; a name not found (an
    unknown type, or the caller's default returned) is not remembered and goes to Rasa each time."""
    lookup = Event.resolve_by_type
    if getattr(lookup, "remembers", False):
        return
    found: Dict[Text, type] = {}

    def resolve_by_type(type_name: Text, default: Optional[type] = None) -> Optional[type]:
        cls = found.get(type_name)
        if cls is None:
            cls = lookup(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    resolve_by_type.remembers = True  # type: ignore[attr-defined]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


@functools.lru_cache(maxsize=1)
def _action_reply_validator() -> Any:
    """What `jsonschema.validate` builds on every call: the validator class for the schema's
    draft, the schema checked against its meta-schema, the validator."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """`RemoteAction._validate_action_result` with the validator built once: the same error,
    chosen by `best_match` as `jsonschema.validate` does, with Rasa's explanation appended."""
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import DOCS_BASE_URL

    error = best_match(_action_reply_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


PARSE_CACHE_VARIABLE = "SANAD_PARSE_CACHE"
DEFAULT_PARSE_CACHE_SIZE = 2048
LONGEST_CACHED_TEXT = 300  # characters: questions are short; a long text is rarely sent twice


def parse_cache_size() -> int:
    try:
        return max(0, int(os.environ.get(PARSE_CACHE_VARIABLE, DEFAULT_PARSE_CACHE_SIZE)))
    except ValueError:
        return DEFAULT_PARSE_CACHE_SIZE


class ParseCache:
    """The parses of the last `size` distinct texts, least recently used first out. A parse is
    stored and handed out as a deep copy: Rasa and the redacting store edit parse data in place."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._parses: "collections.OrderedDict[Hashable, Dict[Text, Any]]" = collections.OrderedDict()
        self._lock = threading.Lock()  # /model/parse and the channels may parse from other threads

    def get(self, key: Hashable) -> Optional[Dict[Text, Any]]:
        with self._lock:
            parse = self._parses.get(key)
            if parse is None:
                self.misses += 1
            else:
                self._parses.move_to_end(key)
                self.hits += 1
        return copy.deepcopy(parse) if parse is not None else None

    def put(self, key: Hashable, parse: Dict[Text, Any]) -> None:
        kept = copy.deepcopy(parse)
        with self._lock:
            self._parses[key] = kept
            self._parses.move_to_end(key)
            while len(self._parses) > self.size:
                self._parses.popitem(last=False)

    def __len__(self) -> int:
        return len(self._parses)


def parse_cache_key(text: Any, metadata: Any, only_output_properties: bool) -> Optional[Tuple]:
    """What a parse depends on, or None when this message's parse must not be kept: no text, too
    long, an intent payload (buttons and forms send "/intent{...}", sometimes with the citizen's
    data), or personal data in the text (a number, a code, a date: kept nowhere, not even here)."""
    from bot.masking import mask_text

    if not isinstance(text, str) or not text.strip() or len(text) > LONGEST_CACHED_TEXT:
        return None
    if text.lstrip().startswith("/") or mask_text(text) != text:
        return None
    fund = metadata.get("fund") if isinstance(metadata, dict) else None
    return text, fund if isinstance(fund, str) else None, bool(only_output_properties)


def processor_parse_cache(processor: Any) -> Optional[ParseCache]:
    """The processor's own cache (a new model means a new processor, hence an empty cache)."""
    cache = getattr(processor, "_sanad_parse_cache", None)
    if cache is None:
        size = parse_cache_size()
        if not size:
            return None
        cache = processor._sanad_parse_cache = ParseCache(size)
    return cache


def cache_parses() -> None:
    """`MessageProcessor._parse_message_with_graph` through the processor's `ParseCache`."""
    from rasa.core.processor import MessageProcessor

    parse_with_graph = MessageProcessor._parse_message_with_graph
    if getattr(parse_with_graph, "cached", False):
        return

    def _parse_message_with_graph(self, message, tracker, only_output_properties: bool = True):
        cache = processor_parse_cache(self)
        key = parse_cache_key(message.text, message.metadata, only_output_properties) if cache is not None else None
        if key is not None:
            parse = cache.get(key)
            if parse is not None:
                return parse
        parse = parse_with_graph(self, message, tracker, only_output_properties)
        if key is not None:
            cache.put(key, parse)
        return parse

    _parse_message_with_graph.cached = True  # type: ignore[attr-defined]
    MessageProcessor._parse_message_with_graph = _parse_message_with_graph  # type: ignore[method-assign]


# Sanic (the action server's web server) closes an idle connection after 5 s: the client lets go
# of its idle connections well before, so it never sends a request on a connection being closed.
ENDPOINT_KEEPALIVE_SECONDS = 2.0
# loop -> (headers, basic auth) -> the kept session: endpoints with the same credentials share one
_endpoint_sessions: "weakref.WeakKeyDictionary[Any, Dict[Hashable, Any]]" = weakref.WeakKeyDictionary()


def _endpoint_session(endpoint: Any) -> Any:
    """The endpoint's session on the running loop: what `EndpointConfig.session()` builds (its
    headers, basic auth, time-out), on a connector that keeps connections alive."""
    import asyncio

    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

    sessions = _endpoint_sessions.setdefault(asyncio.get_running_loop(), {})
    key = (tuple(sorted((endpoint.headers or {}).items())), tuple(sorted((endpoint.basic_auth or {}).items())))
    session = sessions.get(key)
    if session is None or session.closed:
        auth = (aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
                if endpoint.basic_auth else None)
        session = sessions[key] = aiohttp.ClientSession(
            headers=endpoint.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=ENDPOINT_KEEPALIVE_SECONDS))
    return session


async def endpoint_request(self: Any, method: Text = "post", subpath: Optional[Text] = None,
                           content_type: Optional[Text] = "application/json", compress: bool = False,
                           **kwargs: Any) -> Optional[Any]:
    """`EndpointConfig.request` (Rasa 3.6) on the endpoint's kept session: the same headers,
    parameters, errors (`ClientResponseError` from status 400) and result (the JSON, or None)."""
    from aiohttp.client_exceptions import ContentTypeError
    from rasa.utils.endpoints import ClientResponseError, concat_url

    if self.cafile:  # a private CA: Rasa's own path, which builds its SSL context each time
        return await _rasa_request(self, method, subpath, content_type, compress, **kwargs)
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(kwargs.pop("headers", None) or {})
    if self.headers:
        headers.update(self.headers)
    async with _endpoint_session(self).request(
            method, concat_url(self.url, subpath), headers=headers, params=self.combine_parameters(kwargs),
            compress=compress, **kwargs) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason, await response.content.read())
        try:
            return await response.json()
        except ContentTypeError:
            return None


_rasa_request: Any = None


async def close_endpoint_sessions() -> None:
    """The running loop's kept sessions, closed (the server stops)."""
    import asyncio

    for session in _endpoint_sessions.pop(asyncio.get_running_loop(), {}).values():
        await session.close()


def keep_endpoint_connections() -> None:
    global _rasa_request
    import rasa.core.run
    from rasa.utils.endpoints import EndpointConfig

    if getattr(EndpointConfig.request, "keeps_connections", False):
        return
    _rasa_request = EndpointConfig.request
    endpoint_request.keeps_connections = True  # type: ignore[attr-defined]
    EndpointConfig.request = endpoint_request  # type: ignore[method-assign]
    close_resources = rasa.core.run.close_resources

    async def close_resources_and_sessions(app: Any, loop: Any) -> None:
        await close_resources(app, loop)
        await close_endpoint_sessions()

    rasa.core.run.close_resources = close_resources_and_sessions  # registered by serve_application


def install() -> None:
    from rasa.core.actions.action import RemoteAction

    remember_event_classes()
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    cache_parses()
    keep_endpoint_connections()
