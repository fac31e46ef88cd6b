"""Rasa's REST channel, as the gateway uses it: one POST per citizen message, the replies
gathered into one `BotTurn` (texts, buttons, and the `custom.sanad` block the actions attach).

Failures are sorted by what they mean for the citizen's message:
- `RasaUnavailable(delivered=False)`: Rasa never got it (connection refused, 502/503): the
  channel keeps the message and sends it again later; nothing is lost, nothing is doubled.
- `RasaUnavailable(delivered=True)`: Rasa may have processed it (timeout while waiting for the
  answer, internal error): sending it again could make Rasa see it twice, so the channel asks
  the citizen to ask again later instead.

The calls go through aiohttp, not httpx: measured in isolation (a loopback server in another
process answering 920 bytes of REST-channel JSON; docs/benchmarks.md), one `send` cost the
gateway 0.74 ms of CPU one at a time and 2.0 ms with 20 at once with httpx (its connection pool),
0.22 and 0.14 ms with aiohttp on a kept connector."""
from __future__ import annotations

import asyncio
import json
import logging
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import aiohttp

logger = logging.getLogger("sanad.gateway.rasa")


class RasaUnavailable(Exception):
    def __init__(self, reason: str, delivered: bool) -> None:
        super().__init__(reason)
        self.reason, self.delivered = reason, delivered


@dataclass
class Button:
    title: str
    payload: str

    def as_json(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass
class BotMessage:
    text: str
    buttons: list[Button] = field(default_factory=list)
    kind: str = "text"  # "text", or "source" for an answer's source line

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "buttons": [b.as_json() for b in self.buttons], "kind": self.kind}


@dataclass
class BotTurn:
    messages: list[BotMessage]
    sanad: dict[str, Any] = field(default_factory=dict)

    @property
    def lang(self) -> Optional[str]:
        return self.sanad.get("lang")

    @property
    def decision(self) -> Optional[str]:
        return self.sanad.get("decision")

    @property
    def accept_contact(self) -> bool:
        return bool(self.sanad.get("accept_contact"))

    @property
    def sources(self) -> list[dict[str, Any]]:
        return [s for s in self.sanad.get("sources") or [] if isinstance(s, dict) and s.get("title")]

    def public_sanad(self) -> dict[str, Any]:
        """What a channel client may see of the `sanad` block."""
        keep = ("decision", "lang", "topic", "offered", "fund", "reviewed", "accept_contact",
                "step",  # the balance form's step: the widget does not store its "result"
                "handoff")  # the live handoff the turn opened (gateway/app/agent/handoff/desk.py)
        block = {k: self.sanad[k] for k in keep if k in self.sanad}
        detected = self.sanad.get("detected")  # the language the citizen wrote: the widget's
        if isinstance(detected, dict):           # interface follows answers only in that language
            block["detected"] = {k: detected.get(k) for k in ("lang", "script")}
        block["sources"] = [{k: s.get(k) for k in ("title", "publisher", "date", "url", "official")}
                            for s in self.sources]
        return block


def parse_replies(replies: Any) -> BotTurn:
    """Rasa's list of replies -> one turn. The REST channel splits a text on blank lines, so an
    answer's source line (written last by the FAQ action) arrives as the last text."""
    if not isinstance(replies, list):
        raise ValueError("Rasa's answer is not a list")
    messages: list[BotMessage] = []
    sanad: dict[str, Any] = {}
    for reply in replies:
        if not isinstance(reply, dict):
            continue
        custom = reply.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("sanad"), dict):
            sanad.update(custom["sanad"])
        text = reply.get("text")
        buttons = [Button(str(b.get("title", "")), str(b.get("payload", "")))
                   for b in reply.get("buttons") or [] if isinstance(b, dict) and b.get("payload")]
        if isinstance(text, str) and text.strip():
            messages.append(BotMessage(text.strip(), buttons))
        elif buttons and messages:
            messages[-1].buttons.extend(buttons)
    turn = BotTurn(messages, sanad)
    texts = [m for m in messages if not m.buttons]
    last_is_plain = bool(texts) and texts[-1] is messages[-1]
    if turn.decision == "answer" and turn.sources and len(messages) >= 2 and last_is_plain:
        messages[-1].kind = "source"
    return turn


def stable_index(key: str, count: int) -> int:
    """A position among `count` from `key`: crc32, not Python's salted hash, so that every gateway
    process agrees."""
    return zlib.crc32(key.encode("utf-8")) % count


class Placement:
    """Which Rasa instance each conversation lives on. A new conversation goes to the instance with
    the fewest messages in progress, and stays there: on the embedded stores each Rasa process has
    its own conversation locks, so one conversation must never be on two at once. Placing by load
    rather than by a hash of the id matters at a few dozen conversations, where a hash leaves one
    instance with twice the other's (measured: one Rasa process at 112% CPU, the other at 56%).
    A conversation whose gateway forgot it (restart, or among the least recently used beyond
    `capacity`) has no message in progress anywhere, so it may be placed again anywhere."""

    def __init__(self, instances: int, capacity: int = 200_000) -> None:
        self.in_progress = [0] * instances
        self.capacity = capacity
        self._placed: "OrderedDict[str, int]" = OrderedDict()

    def instance_of(self, conversation: str) -> int:
        placed = self._placed.get(conversation)
        if placed is None:
            hashed = stable_index(conversation, len(self.in_progress))  # ties: spread by id
            order = self.in_progress[hashed:] + self.in_progress[:hashed]
            placed = (hashed + order.index(min(order))) % len(self.in_progress)
            self._placed[conversation] = placed
            while len(self._placed) > self.capacity:
                self._placed.popitem(last=False)
        else:
            self._placed.move_to_end(conversation)
        return placed


MAX_CONNECTIONS_PER_INSTANCE = 50
# An idle connection is let go after this long (httpx's keep-alive expiry, which the client had
# before): well under the Rasa server's own 120 s, so a turn is never sent on a connection the
# server is closing at that moment (that turn would have to count as perhaps delivered).
KEEPALIVE_SECONDS = 5.0
READY_TIMEOUT_SECONDS = 3.0


@dataclass
class _Reply:
    """An HTTP answer, read whole."""
    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)  # ValueError (JSONDecodeError, UnicodeDecodeError) when unreadable


# Failures where the request never reached Rasa: no connection (refused, unreachable, no such
# host), or none made in time (the TCP connection, or a free one of the pool: `connect` covers both).
NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
# Anything else after that (a read timeout, the connection lost after sending, a cut answer).
MAY_HAVE_BEEN_SENT = (aiohttp.ClientError, asyncio.TimeoutError)


def _timeout(seconds: float, connect: Optional[float] = None) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts: `seconds` for a free connection of the pool and between two reads
    of the answer, `connect` for opening a TCP connection; no limit on the whole exchange."""
    return aiohttp.ClientTimeout(total=None, connect=seconds, sock_connect=connect or seconds,
                                 sock_read=seconds)


class RasaClient:
    """One Rasa server, or several: N processes on the embedded stores (`sanad run
    --rasa-processes N`), or instances sharing their conversation and lock stores
    (bot/endpoints.scaled.yml). Each conversation goes first to its instance (`Placement`: the
    least busy when it started), and to the next one when an instance never got the message
    (refused connection, 502/503): a killed instance costs its conversations nothing but a
    reconnection. A message an instance may have processed (`delivered=True`) is never sent to
    another.

    An aiohttp session belongs to one event loop: one is opened on the first call from each
    running loop (the gateway has one; tests run several), and `aclose` closes the caller's."""

    def __init__(self, base_url: Union[str, Sequence[str]], timeout: float = 30.0,
                 token: Optional[str] = None) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_urls = [url.rstrip("/") for url in urls if url.strip()]
        if not self.base_urls:
            raise ValueError("no Rasa URL")
        self.base_url = self.base_urls[0]
        self.token = token
        self._timeout = _timeout(timeout, connect=min(5.0, timeout))
        self._ready_timeout = _timeout(min(READY_TIMEOUT_SECONDS, timeout))
        self._sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = (
            weakref.WeakKeyDictionary())
        self.placement = Placement(len(self.base_urls))

    def _session(self) -> aiohttp.ClientSession:
        """The running loop's session, opened on first use."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            # Every connection may stay open for the next turn: with fewer kept alive than citizens
            # talking at once (10 before), each turn past them opened and closed a TCP connection,
            # at a CPU cost on both sides (issue 18). Each instance is its own host:port, so the
            # per-host limit is the limit per instance.
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS_PER_INSTANCE * len(self.base_urls),
                                             limit_per_host=MAX_CONNECTIONS_PER_INSTANCE,
                                             keepalive_timeout=KEEPALIVE_SECONDS)
            session = self._sessions[loop] = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout,
                trust_env=False)  # an internal service: no proxy
        return session

    async def _request(self, method: str, url: str, timeout: Optional[aiohttp.ClientTimeout] = None,
                       **options: Any) -> _Reply:
        """One request, its answer read whole (redirects are not followed, as httpx did not)."""
        async with self._session().request(method, url, timeout=timeout or self._timeout,
                                           allow_redirects=False, **options) as response:
            return _Reply(response.status, await response.read())

    def _starting_at(self, first: int) -> list[str]:
        return self.base_urls[first:] + self.base_urls[:first]

    def instances_for(self, key: str) -> list[str]:
        """The instances in the order a harmless request about `key` tries them: the one its
        stable hash names first, then the others in turn."""
        return self._starting_at(stable_index(key, len(self.base_urls)))

    def conversation_instances(self, sender: str) -> list[str]:
        """The instances in the order a conversation's message tries them: its own, then the next."""
        return self._starting_at(self.placement.instance_of(sender) if len(self.base_urls) > 1 else 0)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> BotTurn:
        body = {"sender": sender, "message": text, "metadata": metadata}
        instances = self.conversation_instances(sender)
        for number, base_url in enumerate(instances, 1):
            index = self.base_urls.index(base_url)
            self.placement.in_progress[index] += 1
            try:
                return await self._send_to(base_url, body)
            except RasaUnavailable as error:
                if error.delivered or number == len(instances):
                    raise
                logger.warning("Rasa instance %d of %d did not get the message (%s): trying the next",
                               index + 1, len(self.base_urls), error.reason)
            finally:
                self.placement.in_progress[index] -= 1
        raise AssertionError("unreachable")

    async def _send_to(self, base_url: str, body: dict[str, Any]) -> BotTurn:
        try:
            response = await self._request("POST", f"{base_url}/webhooks/rest/webhook", json=body)
        except NOT_SENT as error:
            logger.warning("Rasa unreachable (%s)", type(error).__name__)
            raise RasaUnavailable("unreachable", delivered=False) from error
        except MAY_HAVE_BEEN_SENT as error:  # read timeout, connection lost after sending...
            logger.warning("Rasa did not answer (%s)", type(error).__name__)
            raise RasaUnavailable("no answer", delivered=True) from error
        if response.status_code in (502, 503):  # a proxy in front of Rasa, or its store down: not kept
            raise RasaUnavailable(f"HTTP {response.status_code}", delivered=False)
        if response.status_code >= 400:
            logger.warning("Rasa answered HTTP %s", response.status_code)
            raise RasaUnavailable(f"HTTP {response.status_code}", delivered=True)
        try:
            return parse_replies(response.json())
        except ValueError as error:
            logger.warning("Rasa's answer could not be read")
            raise RasaUnavailable("unreadable answer", delivered=True) from error

    async def _post_harmless(self, path: str, body: dict[str, Any], timeout: Optional[float]) -> _Reply:
        """A request that stores nothing (a ranking, a clustering): any instance, the next one when
        one fails. Every failure is `delivered=False` (asking twice is harmless). `timeout`: for
        each phase (connecting, each read), the client's own when None."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        limit = _timeout(timeout) if timeout is not None else None
        failure = "unreachable"
        for base_url in self.instances_for(path + str(body.get("text", ""))):
            try:
                response = await self._request("POST", f"{base_url}{path}", limit, headers=headers, json=body)
            except MAY_HAVE_BEEN_SENT as error:
                logger.warning("Rasa's %s did not answer (%s)", path, type(error).__name__)
                continue
            if response.status_code in (502, 503):
                failure = f"HTTP {response.status_code}"
                continue
            return response
        raise RasaUnavailable(failure, delivered=False)

    async def assist_rank(self, text: str, fund: str, langs: list[str],
                          timeout: Optional[float] = None) -> dict[str, Any]:
        """The agent console's ranking (bot/assist.py's POST /webhooks/assist/rank, behind the Rasa
        API token): `{"lang", "script", "entries": [...]}`, best first. Nothing is stored there,
        and a ranking is harmless to ask twice, so every failure is `delivered=False`."""
        response = await self._post_harmless("/webhooks/assist/rank", {"text": text, "fund": fund, "langs": langs},
                                             timeout)
        if response.status_code != 200:
            logger.warning("Rasa's assist route answered HTTP %s", response.status_code)
            raise RasaUnavailable(f"HTTP {response.status_code}", delivered=False)
        try:
            body = response.json()
        except ValueError as error:
            raise RasaUnavailable("unreadable answer", delivered=False) from error
        if not isinstance(body, dict) or not isinstance(body.get("entries"), list):
            raise RasaUnavailable("unreadable answer", delivered=False)
        return body

    async def review_cluster(self, texts: list[str], timeout: Optional[float] = None) -> list[dict[str, Any]]:
        """The review loop's groups of (already masked) texts by meaning (bot/review.py's POST
        /webhooks/review/cluster, behind the Rasa API token): `[{"members": [indices],
        "representative": index}]`, largest first. Nothing is stored there: failures are `delivered=False`."""
        response = await self._post_harmless("/webhooks/review/cluster", {"texts": texts}, timeout)
        if response.status_code != 200:
            logger.warning("Rasa's review route answered HTTP %s", response.status_code)
            raise RasaUnavailable(f"HTTP {response.status_code}", delivered=False)
        try:
            groups = response.json().get("groups")
        except (ValueError, AttributeError) as error:
            raise RasaUnavailable("unreadable answer", delivered=False) from error
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise RasaUnavailable("unreadable answer", delivered=False)
        return groups

    async def ready(self) -> bool:
        """At least one instance answers (see `instances_ready`)."""
        return any((await self.instances_ready()).values())

    async def instances_ready(self) -> dict[str, bool]:
        """Each instance: it answers and, with the API token set, its HTTP API accepts the token
        (model loaded)."""
        return dict(zip(self.base_urls, await asyncio.gather(*map(self._instance_ready, self.base_urls))))

    async def _instance_ready(self, base_url: str) -> bool:
        try:
            if self.token:
                response = await self._request("GET", f"{base_url}/status", self._ready_timeout,
                                               params={"token": self.token})
            else:
                response = await self._request("GET", f"{base_url}/", self._ready_timeout)
        except MAY_HAVE_BEEN_SENT:
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        """Close the running loop's session and its connections (the next call opens another)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()
