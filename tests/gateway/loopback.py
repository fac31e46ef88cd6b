"""HTTP stand-ins on real loopback sockets for the gateway's client of Rasa (gateway/app/rasa_client.py):
the client's own connections, keep-alive, timeouts and sorting of failures are what the tests
see, not a transport injected in its place.

    async with StandIn(handler) as rasa:   # an HTTP/1.1 server on 127.0.0.1, a port of its own
        ... RasaClient(rasa.url) ...       # rasa.requests: what it was sent; rasa.accepted: TCP connections

The handler gets each `Request` and returns a `Reply`, or `CUT` (the connection closed once the
request is read, no answer: Rasa died while answering) or `HANG` (no answer, ever). A function
or a coroutine function. Also: `refused_url()` (a port nothing listens on: connection refused)
and `unconnectable_url()` (a port whose connections are never accepted: connect timeout)."""
from __future__ import annotations

import asyncio
import inspect
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Union
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # bytes or str as they are, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, bytes]:
        if isinstance(self.body, bytes):
            return self.body, b"application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), b"text/html; charset=utf-8"
        return json.dumps(self.body).encode(), b"application/json"


CUT, HANG = "cut", "hang"
Handler = Callable[[Request], Any]
REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}


class StandIn:
    def __init__(self, handler: Handler, name: str = "rasa") -> None:
        self.handler, self.name = handler, name
        self.requests: list[Request] = []
        self.accepted = 0  # TCP connections accepted
        self._server: Union[asyncio.AbstractServer, None] = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> "StandIn":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):  # a connection still open, or a HANG
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request = await self._read(reader)
                self.requests.append(request)
                reply = self.handler(request)
                if inspect.isawaitable(reply):
                    reply = await reply
                if reply == CUT:
                    break
                if reply == HANG:
                    await asyncio.Event().wait()  # until the stand-in stops (the task is cancelled)
                body, content_type = reply.encoded()
                extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items()).encode()
                status = b"%d %s" % (reply.status, REASONS.get(reply.status, "Status").encode())
                writer.write(b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s" % (
                    status, content_type, len(body), extra, body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            self._tasks.discard(task)
            writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        url = urlsplit(target)
        return Request(method, url.path, dict(parse_qsl(url.query)), headers, body)


@contextmanager
def refused_url() -> Iterator[str]:
    """A loopback port held by a socket that does not listen: every connection is refused (a
    killed Rasa process), and no other process can take the port meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def unconnectable_url() -> Iterator[str]:
    """A loopback port that listens but never accepts, its queue of pending connections full:
    Linux drops the next connections' SYN, so connecting to it times out (an overloaded host)."""
    fillers: list[socket.socket] = []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        port = sock.getsockname()[1]
        try:
            for _ in range(16):
                filler = socket.socket()
                filler.settimeout(0.2)
                try:
                    filler.connect(("127.0.0.1", port))
                except OSError:  # timed out: the queue is full
                    filler.close()
                    break
                fillers.append(filler)
            else:
                raise RuntimeError("the listening queue never filled up")
            yield f"http://127.0.0.1:{port}"
        finally:
            for filler in fillers:
                filler.close()
