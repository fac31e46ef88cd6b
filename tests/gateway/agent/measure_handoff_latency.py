"""Live handoff latency (issue 17's figures), on this machine, through real components:

- reply -> widget: an agent's reply posted to the console's HTTP API until the widget (Debian's
  Chromium, Playwright) shows it; the page stamps each `.sanad-agent` it adds (MutationObserver,
  Date.now()) and the script stamps each POST (time.time()): one clock, one machine;
- reply -> Telegram: the same reply until the Bot API stand-in (tests/gateway/fake_telegram.py)
  receives python-telegram-bot's sendMessage (both in this process: time.monotonic());
- request -> inbox: a citizen's "je veux parler à un conseiller" sent on the widget's WebSocket
  until the console's event stream (/agent/api/inbox/events, Server-Sent Events) delivers the
  new conversation.

The gateway runs in uvicorn on a loopback port with its console on a temporary SQLite database;
Rasa is the scripted stand-in (tests/gateway/stubs.py), so the figures are the gateway's own share
(a real Rasa adds its answer time to request -> inbox only).

    .venvs/api/bin/python -m tests.gateway.agent.measure_handoff_latency [--replies 100] [--requests 20]

Prints one JSON object: per path, n, median and p95 in milliseconds."""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from websockets.sync.client import connect

from gateway.app.agent.config import AgentSettings
from gateway.app.main import create_app
from tests.gateway.agent.conftest import MA, PASSWORD, Accounts
from tests.gateway.agent.test_console_browser import ConsoleServer
from tests.gateway.agent.test_handoff import OPEN_HOURS, citizen_script
from tests.gateway.conftest import CHROMIUM, make_settings
from tests.gateway.fake_telegram import user
from tests.gateway.stubs import ScriptedRasa
from tests.gateway.telegram_harness import telegram_gateway

STAMP_AGENT_MESSAGES = """() => {
  window.__shown = [];
  new MutationObserver(records => records.forEach(r => r.addedNodes.forEach(node => {
    if (node.classList && node.classList.contains("sanad-agent")) {
      window.__shown.push([node.querySelector(".sanad-text").textContent, Date.now()]);
    }
  }))).observe([...document.body.children].find(e => e.shadowRoot).shadowRoot, { childList: true, subtree: true });
}"""


def summary(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1),
            "max_ms": round(ordered[-1], 1)}


class Agent:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, trust_env=False, timeout=10)
        body = self.http.post("/agent/api/auth/login", json={"name": "agent_ma", "password": PASSWORD}).json()
        self.csrf = body["csrf_token"]

    def post(self, path: str, body=None) -> httpx.Response:
        response = self.http.post(f"/agent/api{path}", json=body, headers={"X-CSRF-Token": self.csrf})
        response.raise_for_status()
        return response

    def inbox(self) -> list[dict]:
        return self.http.get("/agent/api/inbox").json()["items"]


def console_options(work: Path) -> dict:
    url = f"sqlite:///{work / 'agent.sqlite3'}"
    Accounts(url, {}).create("agent_ma", MA)
    return {"agent_settings": AgentSettings(DATABASE_URL=url), "clock": lambda: OPEN_HOURS}


def widget_latency(replies: int, work: Path) -> dict:
    from playwright.sync_api import sync_playwright

    rasa = ScriptedRasa(script=citizen_script)
    app = create_app(make_settings(), rasa=rasa, agent=console_options(work))
    with ConsoleServer(app) as server, sync_playwright() as playwright:
        base = server.url.removesuffix("/agent/")
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 390, "height": 760}, locale="fr-FR")
        page.goto(base + "/")
        page.get_by_role("button", name="Ouvrir l'assistant Sanad").click()
        page.locator("#sanad-input").fill("je veux parler à un conseiller")
        page.locator("#sanad-input").press("Enter")
        page.locator(".sanad-bot").last.wait_for()
        page.evaluate(STAMP_AGENT_MESSAGES)
        agent = Agent(base)
        [item] = agent.inbox()
        agent.post(f"/inbox/{item['id']}/claim")
        posted = {}
        for index in range(replies):
            text = f"Réponse numéro {index}."
            posted[text] = time.time() * 1000
            agent.post(f"/inbox/{item['id']}/reply", {"text": text})
            while page.evaluate("() => window.__shown.length") <= index:  # the page's CSP forbids eval:
                time.sleep(0.005)                                        # no wait_for_function
        shown = dict(page.evaluate("window.__shown"))
        browser.close()
    app.state.agent.engine.dispose()
    return summary([shown[text] - at for text, at in posted.items()])


async def telegram_latency(replies: int, work: Path) -> dict:
    rasa = ScriptedRasa(script=citizen_script)
    citizen = user(4242, "fr", "Latency")
    async with telegram_gateway(rasa, agent=console_options(work)) as (telegram, app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        csrf = (await client.post("/agent/api/auth/login",
                                  json={"name": "agent_ma", "password": PASSWORD})).json()["csrf_token"]
        headers = {"X-CSRF-Token": csrf}
        await telegram.send_text(citizen, "je veux parler à un conseiller")
        await telegram.wait_messages(citizen["id"], 1)
        [item] = (await client.get("/agent/api/inbox")).json()["items"]
        await client.post(f"/agent/api/inbox/{item['id']}/claim", headers=headers)
        await telegram.wait_messages(citizen["id"], 2)
        samples = []
        for index in range(replies):
            text = f"Réponse numéro {index}."
            started = time.monotonic()
            await client.post(f"/agent/api/inbox/{item['id']}/reply", json={"text": text}, headers=headers)
            arrived = await telegram.wait_for(lambda: next(
                (c.at for c in telegram.calls if c.method == "sendMessage" and c.params.get("text", "").endswith(text)),
                None))
            samples.append((arrived - started) * 1000)
        await client.aclose()
    return summary(samples)


def inbox_latency(requests: int, work: Path) -> dict:
    rasa = ScriptedRasa(script=citizen_script)
    app = create_app(make_settings(RATE_IP_MESSAGES=1000, RATE_IP_SESSIONS=1000),
                     rasa=rasa, agent=console_options(work))
    arrivals: dict[int, float] = {}
    with ConsoleServer(app) as server:
        base = server.url.removesuffix("/agent/")
        agent = Agent(base)
        ready = threading.Event()

        def listen() -> None:
            with agent.http.stream("GET", "/agent/api/inbox/events", timeout=None) as stream:
                event = None
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                        ready.set()
                    elif line.startswith("data: ") and event == "handoff":
                        handoff = json.loads(line[6:])["handoff"]
                        if handoff["status"] == "waiting":
                            arrivals.setdefault(handoff["id"], time.monotonic())
                    if len(arrivals) >= requests:
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        ready.wait(10)
        sent = []
        for index in range(requests):
            token = httpx.post(f"{base}/api/session", json={"fund": MA}, trust_env=False).json()["token"]
            with connect(base.replace("http", "ws") + "/ws", proxy=None) as ws:
                ws.send(json.dumps({"type": "hello", "token": token}))
                ws.recv()
                started = time.monotonic()
                ws.send(json.dumps({"type": "message", "client_id": f"latency-{index:04d}",
                                    "text": "je veux parler à un conseiller"}))
                sent.append(started)
                while json.loads(ws.recv())["type"] != "bot":
                    pass
        listener.join(10)
    app.state.agent.engine.dispose()
    ids = sorted(arrivals)
    return summary([(arrivals[handoff_id] - started) * 1000 for handoff_id, started in zip(ids, sent)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        figures = {"reply_to_widget": widget_latency(args.replies, work / "w"),
                   "reply_to_telegram": asyncio.run(telegram_latency(args.replies, work / "t")),
                   "request_to_inbox": inbox_latency(args.requests, work / "i")}
    print(json.dumps({"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **figures}, indent=2))


if __name__ == "__main__":
    main()
