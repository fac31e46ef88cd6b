"""RasaClient.assist_rank against Rasa's assist route (the stand-in of tests/gateway/stubs.py,
served on a loopback port): the bearer token sent, the body as bot/assist.py reads it, failures
told as RasaUnavailable."""
from __future__ import annotations

import pytest

from gateway.app.rasa_client import RasaClient, RasaUnavailable
from tests.gateway.agent.conftest import DZ
from tests.gateway.loopback import StandIn, refused_url
from tests.gateway.stubs import assist_rank_route


async def rank(url: str, token, *args):
    client = RasaClient(url, token=token, timeout=2)
    try:
        return await client.assist_rank(*args)
    finally:
        await client.aclose()


async def test_the_ranking_is_asked_with_the_rasa_token():
    calls: list = []
    async with StandIn(assist_rank_route("t0k", calls)) as rasa:
        body = await rank(rasa.url, "t0k", "comment payer", DZ, ["ar"])
    assert calls == [{"text": "comment payer", "fund": DZ, "langs": ["ar"]}]
    assert body["entries"][0]["topic"] == "payment_channels"


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_a_refused_token_is_unavailable(token):
    async with StandIn(assist_rank_route("t0k")) as rasa:
        with pytest.raises(RasaUnavailable) as caught:
            await rank(rasa.url, token, "payer", DZ, [])
    assert caught.value.reason == "HTTP 401" and caught.value.delivered is False
    assert len(rasa.requests) == 1


async def test_an_unreachable_rasa_is_unavailable():
    with refused_url() as url, pytest.raises(RasaUnavailable) as caught:
        await rank(url, "t0k", "payer", DZ, [])
    assert caught.value.delivered is False
