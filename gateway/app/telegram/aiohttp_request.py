"""python-telegram-bot's HTTP calls to the Bot API through aiohttp instead of its default httpx
(`HTTPXRequest`), for the gateway's own CPU (issue 18).

Why: python-telegram-bot's Bot API calls (sendMessage, sendChatAction, ...) were about 15% of the
gateway's py-spy samples, most of it in httpx. Measured in isolation (2026-12-06, PTB 22.8,
`Bot.send_message` against tests/gateway/fake_telegram.py in another process, process_time per
call, 1,500-2,000 calls a run, two runs each, load 1.5-3.5): httpx 1.0-1.6 ms of CPU per call one at
a time and 1.2-1.8 ms with 5 at once, aiohttp 0.42-0.57 and 0.36-0.55 ms (the same under asyncio
and uvloop): about 65% less CPU for the same call, PTB's own work on it included. Wall time per
call fell too (1.3-3.2 -> 0.54-1.9 ms). docs/benchmarks.md, "Changes of 2026-12-06 (night)".

Same behaviour as HTTPXRequest where the gateway relies on it: one kept connection pool (a
ClientSession with a TCPConnector of `connection_pool_size` connections), the same default time-outs
(read / write / connect 5 s, pool 1 s), parameters form-encoded as PTB's `json_parameters`, the
(status, body) pair handed back to PTB (which turns a Bot API error into BadRequest, Forbidden...),
an aiohttp time-out raised as `telegram.error.TimedOut` and any other aiohttp error as
`telegram.error.NetworkError` (the channel's error handler and the handoff delivery treat these as
Telegram unreachable), proxies from the environment as with httpx (HTTP(S)_PROXY, NO_PROXY: read
once per host, not at every call: aiohttp's `trust_env` read the environment and ~/.netrc in a
worker thread for each request, 3% of the gateway's py-spy samples under the bench). No file uploads: the gateway
sends none (a call with files is refused). aiohttp has no write time-out: bodies here are small
form posts, sent in one write."""
from __future__ import annotations

import asyncio
from typing import Dict, Optional, Tuple

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` on one aiohttp ClientSession (built in `initialize`)."""

    __slots__ = ("_pool_size", "_read", "_write", "_connect", "_pool", "_session", "_proxies")

    def __init__(self, connection_pool_size: int = 256, read_timeout: Optional[float] = 5.0,
                 write_timeout: Optional[float] = 5.0, connect_timeout: Optional[float] = 5.0,
                 pool_timeout: Optional[float] = 1.0) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write = read_timeout, write_timeout
        self._connect, self._pool = connect_timeout, pool_timeout
        self._session: Optional[aiohttp.ClientSession] = None
        self._proxies: Dict[Tuple[str, str], Tuple[Optional[URL], Optional[aiohttp.BasicAuth]]] = {}

    def proxy_for(self, url: str) -> Tuple[Optional[URL], Optional[aiohttp.BasicAuth]]:
        """The proxy (and its credentials) the environment names for `url`'s scheme and host, or
        none; aiohttp's own reading of HTTP(S)_PROXY and NO_PROXY, done once per host."""
        target = URL(url)
        key = (target.scheme, target.host or "")
        if key not in self._proxies:
            try:
                self._proxies[key] = get_env_proxy_for_url(target)
            except LookupError:  # no proxy for this scheme, or the host is in NO_PROXY
                self._proxies[key] = (None, None)
        return self._proxies[key]

    @property
    def read_timeout(self) -> Optional[float]:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
            # Proxies from the environment are passed per call (`proxy_for`), read once per host.
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                                  cookie_jar=aiohttp.DummyCookieJar(),
                                                  headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: Optional[RequestData] = None,
                         read_timeout=BaseRequest.DEFAULT_NONE, write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE,
                         pool_timeout=BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        if request_data is not None and request_data.contains_files:
            raise RuntimeError("AiohttpRequest does not upload files (the gateway sends none)")
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool
        # aiohttp's `connect` covers waiting for a free connection of the pool and opening it.
        connect = None if connect_timeout is None or pool_timeout is None else connect_timeout + pool_timeout
        timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect_timeout,
                                        sock_read=read_timeout)
        data = request_data.json_parameters if request_data is not None else None
        proxy, proxy_auth = self.proxy_for(url)
        try:
            async with session.request(method, url, data=data, timeout=timeout, proxy=proxy,
                                       proxy_auth=proxy_auth) as response:
                return response.status, await response.read()
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error
