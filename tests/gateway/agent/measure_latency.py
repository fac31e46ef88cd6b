"""Assist latency through the console's HTTP API with several agents typing at once (issue 16's
figure). Real processes, as `sanad run` starts them: action server, Rasa with the trained model,
the gateway with its console; AGENTS signed-in agents each "type" agent-style messages, one
request per debounced pause (every few words), one after the other, all agents at once.

    .venvs/api/bin/python -m tests.gateway.agent.measure_latency [--agents 5] [--rounds 4]

Prints one JSON object: requests, median and p95 in milliseconds, per-request throughput."""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bot.tooling import services
from gateway.app.agent import manage
from gateway.app.agent.config import AgentSettings
from gateway.app.config import FUNDS

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "latency measurement password"
MESSAGES = [  # what an agent types while the caller speaks: notes, third person, the caller's words
    "le caller demande où payer ses cotisations en ligne",
    "assiette cotisation médecin libéral combien par mois",
    "المتصل يسأل عن مدة الانتظار قبل استرجاع مصاريف العلاج",
    "bghit n3ref wach mrati w wlidati mghattyin b amo",
    "il a reçu des pénalités de retard, peut-il demander une remise",
    "واش نقدر نخلص الكاسنوس بالبطاقة الذهبية",
]


def typing_steps(message: str, words_per_pause: int = 3) -> list[str]:
    words = message.split()
    return [" ".join(words[:n]) for n in range(words_per_pause, len(words), words_per_pause)] + [message]


async def agent(base_url: str, name: str, rounds: int, latencies: list[float], pause: float = 0.0,
                direct: dict | None = None) -> None:
    """`direct` ({"token", "fund"}): ask Rasa's assist route itself, to tell the console's share."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        if direct:
            headers = {"Authorization": f"Bearer {direct['token']}"}
            for round_ in range(rounds):
                for message in MESSAGES:
                    for text in typing_steps(message):
                        started = time.perf_counter()
                        response = await client.post("/webhooks/assist/rank", headers=headers,
                                                     json={"text": text, "fund": direct["fund"], "langs": ["fr"]})
                        latencies.append((time.perf_counter() - started) * 1000)
                        response.raise_for_status()
                        await asyncio.sleep(pause)
            return
        signed_in = await client.post("/agent/api/auth/login", json={"name": name, "password": PASSWORD})
        signed_in.raise_for_status()
        headers = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
        for round_ in range(rounds):
            for message in MESSAGES:
                for text in typing_steps(message):
                    started = time.perf_counter()
                    response = await client.post("/agent/api/assist", json={"text": text, "ui_lang": "fr"},
                                                 headers=headers)
                    latencies.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                    await asyncio.sleep(pause)  # the agent types on until the next debounced pause


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds each agent waits between two requests (0: back to back, the worst case)")
    parser.add_argument("--direct", action="store_true",
                        help="ask Rasa's assist route directly (no console): the console's overhead by difference")
    args = parser.parse_args(argv)
    model = REPO / "models" / "sanad.tar.gz"
    work = Path(tempfile.mkdtemp(prefix="sanad-assist-latency-"))
    database = f"sqlite:///{work / 'agent.sqlite3'}"
    names = [f"agent{i}" for i in range(args.agents)]
    for index, name in enumerate(names):
        sys.stdin = io.StringIO(PASSWORD + "\n")
        manage.main(["agents", "create", name, "--fund", FUNDS[index % 2], "--role", "agent", "--password-stdin"],
                    settings=AgentSettings(DATABASE_URL=database))
    token = "latency-rasa-token"
    actions = services.action_server(log=work / "actions.log")
    rasa = services.rasa_server(model, actions.health_url.rsplit("/", 1)[0] + "/webhook", token=token,
                                log=work / "rasa.log", SANAD_TRACKER_DB=str(work / "tracker.db"))
    gateway = services.gateway_server(rasa.url, FUNDS[0], token, log=work / "gateway.log",
                                      SANAD_GATEWAY_AGENT_DATABASE_URL=database)
    with services.running(actions, rasa, gateway):
        async def warm_and_run() -> list[float]:
            warm: list[float] = []
            await agent(gateway.url, names[0], 1, warm)  # first parses load lazily
            latencies: list[float] = []
            started = time.perf_counter()
            if args.direct:
                await asyncio.gather(*(agent(rasa.url, name, args.rounds, latencies, args.pause,
                                             {"token": token, "fund": FUNDS[0]}) for name in names))
            else:
                await asyncio.gather(*(agent(gateway.url, name, args.rounds, latencies, args.pause) for name in names))
            latencies.append(-(time.perf_counter() - started))  # marker: wall time
            return latencies

        results = asyncio.run(warm_and_run())
    wall = -results.pop()
    print(json.dumps({"path": "rasa direct" if args.direct else "console", "pause_s": args.pause, "agents": args.agents, "requests": len(results), "median_ms": round(statistics.median(results), 1),
                      "p95_ms": round(percentile(results, 0.95), 1), "max_ms": round(max(results), 1),
                      "requests_per_second": round(len(results) / wall, 1)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
