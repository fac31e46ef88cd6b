"""RasaClient.assist_rank against Rasa's assist route (the stand-in of tests/gateway/stubs.py,
over HTTP through httpx's ASGI transport): the bearer token sent, the body as bot/assist.py reads
it, failures told as RasaUnavailable."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.app.rasa_client import RasaClient, RasaUnavailable
from tests.gateway.agent.conftest import DZ
from tests.gateway.stubs import assist_rank_app


def rank(client: RasaClient, *args):
    async def go():
        try:
            return await client.assist_rank(*args)
        finally:
            await client.aclose()
    return asyncio.run(go())


def test_the_ranking_is_asked_with_the_rasa_token():
    calls: list = []
    client = RasaClient("http://rasa.test", token="t0k", transport=httpx.ASGITransport(app=assist_rank_app("t0k", calls)))
    body = rank(client, "comment payer", DZ, ["ar"])
    assert calls == [{"text": "comment payer", "fund": DZ, "langs": ["ar"]}]
    assert body["entries"][0]["topic"] == "payment_channels"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_refused_token_is_unavailable(token):
    client = RasaClient("http://rasa.test", token=token, transport=httpx.ASGITransport(app=assist_rank_app("t0k")))
    with pytest.raises(RasaUnavailable):
        rank(client, "payer", DZ, [])


def test_an_unreachable_rasa_is_unavailable():
    with pytest.raises(RasaUnavailable):
        rank(RasaClient("http://127.0.0.1:9", timeout=2), "payer", DZ, [])
