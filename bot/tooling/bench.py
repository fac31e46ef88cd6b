"""`sanad bench`: speed and memory of the whole system under load, measured, never asserted by tests.

Starts its own stack as in production (the affiliate API, the action server, the Rasa server and
the gateway: real processes, real HTTP, in a scratch directory so that the run's conversations,
codes and databases never mix with `var/`), then lets N simulated citizens talk at once:

1. through the gateway, as the widget does on its web-chat WebSocket (session, hello, messages)
   and, for a quarter of the citizens, as Telegram does on the webhook (updates posted, replies
   read from a local Bot API stand-in, tests/gateway/fake_telegram.py), at once;
2. to Rasa's REST channel directly, the same scripts (`direct`: what the gateway costs);
3. `POST /model/parse` of the same messages on Sanad's model and, when it is trained
   (`sanad train --stock`), on Rasa's stock pipeline in a second Rasa server (`stock`).

A citizen's conversation has 1 to 50 turns: FAQ questions from the held-out set (five languages,
both scripts, both funds), small talk, a click on the first offered topic when Sanad asks which
one was meant, and, in one conversation in ten, a whole balance look-up (number, birth date, the
one-time code read from the scratch SMS outbox). Every figure is per step kind: replies per
second, p50/p95/p99 latency, errors. Each phase lasts `duration` seconds of wall-clock time and
stops the citizens' next message after it (a message already sent is waited for, 60 s at most).
The gateway's rate limits are raised for the run: every citizen comes from 127.0.0.1."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from bot import paths
from bot.tooling import services

STEP_TIMEOUT = 60.0
KINDS = ("faq", "smalltalk", "clarify", "balance")
SMALLTALK = {"greet", "thanks", "goodbye"}
NOT_IN_MIX = {"account_balance", "human_handoff"}  # a look-up is scripted whole; a handoff waits for a person
BALANCE_SHARE = 0.1
LOOKUP_ACCOUNTS = {  # demo affiliates (backend/README.md): number, birth date, phone
    "cnss_ma": [("100204821", "12/03/1980", "+212600000101"), ("100640278", "08/09/1977", "+212600000105")],
    "casnos_dz": [("161203004217", "17/05/1983", "+213550000201")],
}
BALANCE_ASK = {"cnss_ma": "je veux connaître mon solde", "casnos_dz": "nheb nchouf solde ta3i"}
CODE = re.compile(r"\b(\d{6})\b")
TURN_BUCKETS = ((1, 5), (6, 15), (16, 30), (31, 50))
GATEWAY_FUND = "cnss_ma"  # the gateway's own fund: its Telegram bot's (the widget names its fund per session)
TELEGRAM_SHARE = 0.25  # of the gateway phase's citizens, through the Telegram webhook (the rest: the widget)


# --- the citizens' scripts ------------------------------------------------------------------

@dataclass
class Step:
    kind: str
    text: str
    button: bool = False
    expect_step: Optional[str] = None  # a balance step: the form's step the reply must be at
    account: Optional[tuple] = None


def load_messages() -> dict[str, dict[str, list]]:
    """Held-out cases by fund, split into FAQ questions and small talk."""
    from bot.tooling.evaluation import load_cases

    out: dict[str, dict[str, list]] = {}
    for case in load_cases(paths.REPO / "tests" / "data" / "heldout.yml"):
        if case.expect in NOT_IN_MIX:
            continue
        kind = "smalltalk" if case.expect in SMALLTALK else "faq"
        out.setdefault(case.fund, {"faq": [], "smalltalk": []})[kind].append(case.text)
    return out


def conversation(rng: random.Random, messages: dict[str, dict[str, list]],
                 balance_share: float = BALANCE_SHARE) -> tuple[str, list[Step]]:
    """A fund and its script: 1 to 50 turns, small talk now and then, sometimes a look-up."""
    fund = rng.choice(sorted(messages))
    pool = messages[fund]
    steps = []
    if rng.random() < balance_share:
        account = rng.choice(LOOKUP_ACCOUNTS[fund])
        steps += [Step("balance", BALANCE_ASK[fund], expect_step="affiliate_number", account=account),
                  Step("balance", account[0], expect_step="birth_date", account=account),
                  Step("balance", account[1], expect_step="otp_code", account=account),
                  Step("balance", "", expect_step="result", account=account)]  # text: the code, read at run time
    for _ in range(rng.randint(1, 50) - len(steps) // 4):
        kind = "smalltalk" if rng.random() < 0.12 else "faq"
        steps.append(Step(kind, rng.choice(pool[kind])))
    return fund, steps


def choose_topic(topic: str) -> str:
    """The payload of a clarification's topic button (actions/faq.py)."""
    return '/choose_topic{"topic":"%s"}' % topic


# --- figures ----------------------------------------------------------------------------------

@dataclass
class Record:
    started: float = 0.0
    ended: float = 0.0
    steps: list = field(default_factory=list)  # (kind, turn number, ms)
    errors: dict = field(default_factory=dict)
    conversations: int = 0
    lookups_done: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency(samples: list[float], seconds: float) -> dict[str, Any]:
    if not samples:
        return {"n": 0, "replies_per_s": 0.0}
    ordered = sorted(samples)
    return {"n": len(ordered), "replies_per_s": round(len(ordered) / seconds, 2),
            "p50_ms": round(_percentile(ordered, 0.50), 1), "p95_ms": round(_percentile(ordered, 0.95), 1),
            "p99_ms": round(_percentile(ordered, 0.99), 1)}


def summary(record: Record) -> dict[str, Any]:
    seconds = max(record.ended - record.started, 1e-9)
    out: dict[str, Any] = {kind: latency([ms for k, _, ms in record.steps if k == kind], seconds) for kind in KINDS}
    out["all"] = latency([ms for _, _, ms in record.steps], seconds)
    out["errors"] = sum(record.errors.values())
    out["error_kinds"] = dict(record.errors)
    out["conversations"] = record.conversations
    out["balance_lookups_completed"] = record.lookups_done
    out["faq_p50_by_turn"] = {f"{a}-{b}": (round(statistics.median(v), 1) if v else None)
                              for a, b in TURN_BUCKETS
                              for v in [[ms for k, t, ms in record.steps if k == "faq" and a <= t <= b]]}
    out["seconds"] = round(seconds, 1)
    return out


# --- the two ways in: the gateway's WebSocket, Rasa's REST channel ------------------------------

class WebCitizen:
    """The widget's protocol (gateway/app/web/ws.py): a session, a hello, then messages."""

    def __init__(self, http, gateway_url: str, fund: str) -> None:
        self.http, self.url, self.fund, self.ws = http, gateway_url, fund, None

    async def open(self) -> None:
        async with self.http.post(f"{self.url}/api/session", json={"fund": self.fund}) as response:
            token = (await response.json())["token"]
        self.ws = await self.http.ws_connect(f"{self.url.replace('http', 'ws', 1)}/ws", max_msg_size=1 << 20)
        await self.ws.send_json({"type": "hello", "token": token})
        welcome = await self.ws.receive_json(timeout=STEP_TIMEOUT)
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"no welcome: {welcome.get('code')}")

    async def say(self, text: str, button: bool) -> dict[str, Any]:
        client_id = uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "client_id": client_id, "text": text, "button": button})
        while True:
            event = await self.ws.receive_json(timeout=STEP_TIMEOUT)
            if event.get("client_id") != client_id or event["type"] == "received":
                continue
            if event["type"] != "bot":
                raise RuntimeError(f"gateway {event['type']}: {event.get('code')}")
            return event["turn"].get("sanad") or {}

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


class RestCitizen:
    """Rasa's REST channel directly, with the fund in the metadata as the gateway sends it."""

    def __init__(self, http, rasa_url: str, fund: str) -> None:
        self.http, self.url, self.fund, self.sender = http, rasa_url, fund, f"bench-{uuid.uuid4().hex}"

    async def open(self) -> None:
        pass

    async def say(self, text: str, button: bool) -> dict[str, Any]:
        body = {"sender": self.sender, "message": text, "metadata": {"fund": self.fund}}
        async with self.http.post(f"{self.url}/webhooks/rest/webhook", json=body) as response:
            if response.status != 200:
                raise RuntimeError(f"rasa HTTP {response.status}")
            replies = await response.json()
        sanad: dict[str, Any] = {}
        for reply in replies:
            custom = reply.get("custom") if isinstance(reply, dict) else None
            if isinstance(custom, dict) and isinstance(custom.get("sanad"), dict):
                sanad.update(custom["sanad"])
        if not replies:
            raise RuntimeError("no reply")
        return sanad

    async def close(self) -> None:
        pass


class TelegramCitizen:
    """The Telegram channel in webhook mode (gateway/app/telegram/): updates posted to the gateway's
    webhook as Telegram would post them, the bot's replies read from the local Bot API stand-in it
    sends them to (tests/gateway/fake_telegram.py, `GET /_wait`). The turn's time runs from the
    update's post to the first message the bot sends back. A citizen here is one Telegram user of
    the gateway's own fund; no balance look-ups (they start with sharing a phone contact)."""

    user_ids = iter(range(7_000_000, 10 ** 9))
    update_ids = iter(range(1, 10 ** 9))

    def __init__(self, http, gateway_url: str, bot_api_url: str, secret: str) -> None:
        self.http, self.url, self.bot_api, self.secret = http, gateway_url, bot_api_url, secret
        self.user_id, self.seen, self.last = next(self.user_ids), 0, None

    async def open(self) -> None:
        pass

    def _update(self, text: str, button: bool) -> dict[str, Any]:
        from bot.tooling.fuzz import tg_callback, tg_message

        update_id = next(self.update_ids)
        if not button:
            return tg_message(self.user_id, text, update_id)
        # The citizen presses the first button of the bot's last message (as _converse chooses).
        keyboard = (self.last or {}).get("reply_markup", {}).get("inline_keyboard") or [[{}]]
        return tg_callback(self.user_id, keyboard[0][0].get("callback_data", text), update_id, self.last)

    async def say(self, text: str, button: bool) -> dict[str, Any]:
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.secret}
        async with self.http.post(f"{self.url}/telegram/webhook", json=self._update(text, button),
                                  headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"webhook HTTP {response.status}")
        query = {"chat_id": str(self.user_id), "since": str(self.seen), "timeout": str(STEP_TIMEOUT)}
        async with self.http.get(f"{self.bot_api}/_wait", params=query) as response:
            if response.status != 200:
                raise RuntimeError("telegram no reply")
            messages = await response.json()
        self.seen += len(messages)
        self.last = messages[-1]
        return self._as_sanad(self.last)

    @staticmethod
    def _as_sanad(message: dict[str, Any]) -> dict[str, Any]:
        """What the script needs of a turn: a clarification offers topic buttons."""
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        offered = [row[0].get("callback_data") for row in keyboard if row]
        return {"decision": "clarify", "offered": offered} if offered else {}

    async def close(self) -> None:
        pass


# --- running the citizens ---------------------------------------------------------------------

class Outbox:
    """The run's SMS outbox: the newest code sent to a phone after a moment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.locks: dict[str, asyncio.Lock] = {}

    def lock(self, phone: str) -> asyncio.Lock:  # one look-up per phone at a time: codes never cross
        return self.locks.setdefault(phone, asyncio.Lock())

    def new_phase(self) -> None:
        """Forget the locks: an asyncio lock belongs to the event loop that first waited on it, and
        each phase of the run has its own."""
        self.locks = {}

    async def code_for(self, phone: str, since_ns: int, wait: float = 10.0) -> Optional[str]:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for path in sorted(self.folder.glob("*.json"), reverse=True):
                if int(path.name.split("-")[0]) < since_ns:
                    break
                message = json.loads(path.read_text(encoding="utf-8"))
                found = CODE.search(message.get("text", "")) if message.get("to") == phone else None
                if found:
                    return found.group(1)
            await asyncio.sleep(0.05)
        return None


async def _converse(client, steps: list[Step], record: Record, deadline: float, outbox: Outbox) -> None:
    turn, offered, lookup_started = 0, None, 0
    queue = list(steps)
    while queue and time.monotonic() < deadline:
        step = queue.pop(0)
        if step.kind == "balance" and step.expect_step == "affiliate_number":
            lookup_started = time.time_ns()
        if step.kind == "balance" and step.expect_step == "result":
            code = await outbox.code_for(step.account[2], lookup_started)
            if code is None:
                record.error("balance_no_code")
                return
            step = Step("balance", code, expect_step="result")
        turn += 1
        started = time.perf_counter()
        try:
            sanad = await client.say(step.text, step.button)
        except Exception as error:  # noqa: BLE001 - every failure is a figure here
            record.error(type(error).__name__ if not isinstance(error, RuntimeError) else str(error)[:60])
            return
        record.steps.append((step.kind, turn, (time.perf_counter() - started) * 1000))
        if step.expect_step and sanad.get("step") != step.expect_step:
            record.error(f"balance_not_at_{step.expect_step}")
            return
        if step.expect_step == "result":
            record.lookups_done += 1
        offered = sanad.get("offered") if sanad.get("decision") == "clarify" else None
        if offered and not step.button:  # Sanad asked which topic: the citizen clicks the first
            queue.insert(0, Step("clarify", choose_topic(offered[0]), button=True))


@dataclass
class Crowd:
    """Citizens of one channel: how to make a client for a fund, how many, where their figures go."""
    make_client: Any  # (http, fund) -> client
    citizens: int
    record: Record = field(default_factory=Record)
    funds: Optional[tuple[str, ...]] = None  # None: both funds
    balance_share: float = BALANCE_SHARE


async def _citizen(crowd: Crowd, http, messages, seed: int, deadline: float, outbox: Outbox) -> None:
    rng = random.Random(seed)
    record = crowd.record
    while time.monotonic() < deadline:
        fund, steps = conversation(rng, messages, crowd.balance_share)
        client = crowd.make_client(http, fund)
        lock = outbox.lock(steps[0].account[2]) if steps[0].kind == "balance" else contextlib.nullcontext()
        try:
            async with lock:
                await client.open()
                record.conversations += 1
                await _converse(client, steps, record, deadline, outbox)
        except Exception as error:  # noqa: BLE001
            record.error(f"open: {type(error).__name__}")
            await asyncio.sleep(0.5)
        finally:
            with contextlib.suppress(Exception):
                await client.close()


async def load_crowds(crowds: list[Crowd], duration: float, outbox: Outbox, seed: int = 18) -> None:
    """Every crowd's citizens at once, for `duration` seconds."""
    import aiohttp

    messages = load_messages()
    outbox.new_phase()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT)) as http:
        started = time.monotonic()
        deadline = started + duration
        citizens, n = [], 0
        for crowd in crowds:
            crowd.record.started = started
            theirs = {f: m for f, m in messages.items() if crowd.funds is None or f in crowd.funds}
            for _ in range(crowd.citizens):
                citizens.append(_citizen(crowd, http, theirs, seed * 1000 + n, deadline, outbox))
                n += 1
        await asyncio.gather(*citizens)
        for crowd in crowds:
            crowd.record.ended = max(time.monotonic(), deadline)


async def load(make_client, citizens: int, duration: float, outbox: Outbox, seed: int = 18) -> Record:
    crowd = Crowd(make_client, citizens)
    await load_crowds([crowd], duration, outbox, seed)
    return crowd.record


def merged(*records: Record) -> Record:
    """One record of several crowds that ran at once (same start and end)."""
    out = Record(started=min(r.started for r in records), ended=max(r.ended for r in records))
    for record in records:
        out.steps += record.steps
        out.conversations += record.conversations
        out.lookups_done += record.lookups_done
        for what, count in record.errors.items():
            out.errors[what] = out.errors.get(what, 0) + count
    return out


async def parse_load(rasa_url: str, token: str, citizens: int, duration: float, seed: int = 18) -> Record:
    """`POST /model/parse` of the same messages, back to back by each of N clients."""
    import aiohttp

    texts = [t for pool in load_messages().values() for kind in pool.values() for t in kind]
    record = Record()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def client(i: int) -> None:
            rng = random.Random(seed * 1000 + i)
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    async with http.post(f"{rasa_url}/model/parse", params={"token": token},
                                         json={"text": rng.choice(texts)}) as response:
                        await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"parse HTTP {response.status}")
                except Exception as error:  # noqa: BLE001
                    record.error(str(error)[:60] or type(error).__name__)
                    continue
                record.steps.append(("faq", 1, (time.perf_counter() - started) * 1000))

        record.started = time.monotonic()
        deadline = record.started + duration
        await asyncio.gather(*(client(i) for i in range(citizens)))
        record.ended = max(time.monotonic(), deadline)
    return record


# --- processes ------------------------------------------------------------------------------

def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and brackets):
    [0] state, [1] parent pid, [11] utime, [12] stime."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _tree(pid: int) -> list[int]:
    """The process and its descendants (a server may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(int(_stat(entry.name)[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def memory(pid: int) -> dict[str, int]:
    """Resident memory now and at its peak (VmHWM), in MB, summed over the process tree."""
    rss = peak = 0
    for member in _tree(pid):
        with contextlib.suppress(OSError):
            values = {line.split(":")[0]: int(line.split()[1]) for line in
                      Path(f"/proc/{member}/status").read_text().splitlines() if line.startswith(("VmRSS", "VmHWM"))}
            rss, peak = rss + values.get("VmRSS", 0), peak + values.get("VmHWM", 0)
    return {"rss_mb": round(rss / 1024), "peak_mb": round(peak / 1024)}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time used so far, summed over the process tree."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in _tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat(member)
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """Each service's CPU seconds so far, and the bench's own (its simulated citizens share the
    machine's cores with the services, so their cost is part of the picture)."""
    own = os.times()
    return {**{name: cpu_seconds(pid) for name, pid in pids.items()}, "bench_client": own.user + own.system}


def cpu_per_reply(before: dict[str, float], after: dict[str, float], record: Record) -> dict[str, float]:
    """CPU milliseconds per reply of each process during one phase, and their total: where a
    turn's time goes when the cores are saturated (the gateway's overhead is its share)."""
    replies = max(len(record.steps), 1)
    spent = {name: round(1000 * (after[name] - before[name]) / replies, 1) for name in before}
    return {**spent, "total": round(sum(spent.values()), 1)}


def _stack(work: Path, model: Path, stores=None, scaled: int = 0, rasa_processes: int = 1,
           parse_cache: Optional[int] = None):
    """The affiliate API, the action server, the Rasa server and the gateway, all in `work`:
    `rasa_processes` Rasa processes on the embedded stores (`sanad run --rasa-processes N`), or with
    `stores` (bot/tooling/stores.py), `scaled` Rasa instances on PostgreSQL and Redis instead."""
    from bot.tooling.run import gateway_scaling

    logs = work / "logs"
    scratch = {"SANAD_VAR_DIR": str(work)}
    if parse_cache is not None:
        scratch["SANAD_PARSE_CACHE"] = str(parse_cache)
    backend = services.backend_server(log=logs / "backend.log", **scratch,
                                      SANAD_BACKEND_DATABASE_URL=f"sqlite:///{work / 'backend.sqlite3'}",
                                      SANAD_BACKEND_SMS_OUTBOX_DIR=str(work / "sms-outbox"),
                                      SANAD_BACKEND_SMS_MAX_PER_AFFILIATE="100000")
    vault = {"SANAD_REDIS_URL": stores.redis_url()} if stores else {}  # as `sanad run --scaled`
    actions = services.action_server(log=logs / "actions.log", SANAD_BACKEND_URL=backend.url, **scratch, **vault)
    action_url = actions.health_url.rsplit("/", 1)[0] + "/webhook"
    token = uuid.uuid4().hex  # one API token for every instance: the gateway checks them all with it
    # The embedded SQLite file of the run, or the shared stores of a scaled run.
    where = {"endpoints": services.SCALED_ENDPOINTS, **stores.rasa_env()} if stores else \
        {"SANAD_TRACKER_DB": str(work / "tracker.db")}
    rasas = [services.rasa_server(model, action_url, log=logs / f"rasa-{i + 1}.log", name=f"rasa-{i + 1}", token=token,
                                  **scratch, **where)
             for i in range(scaled if stores else max(rasa_processes, 1))]
    rasa = rasas[0]
    limits = {f"SANAD_GATEWAY_{name}": "1000000" for name in
              ("RATE_SESSION_MESSAGES", "RATE_IP_MESSAGES", "RATE_IP_SESSIONS", "RATE_IP_CONNECTIONS",
               "RATE_TELEGRAM_MESSAGES")}
    bot_api, telegram = _telegram(logs)
    gateway = services.gateway_server(rasa.url, GATEWAY_FUND, rasa.token, log=logs / "gateway.log", **scratch,
                                      **limits, **telegram,
                                      SANAD_GATEWAY_AGENT_DATABASE_URL=f"sqlite:///{work / 'agent.sqlite3'}",
                                      SANAD_GATEWAY_AGENT_BACKEND_URL=backend.url, **gateway_scaling(rasas, stores))
    return backend, actions, rasas, bot_api, gateway


def _telegram(logs: Path) -> tuple[Optional[services.Service], dict[str, str]]:
    """The local Bot API stand-in (as `sanad fuzz` runs it) and the gateway's Telegram settings in
    webhook mode; (None, {}) where the repository's tests are not there (an image without them)."""
    from bot.tooling.fuzz import fake_telegram_service, gateway_telegram_settings

    bot_api = fake_telegram_service(logs / "telegram.log")
    if bot_api is None:
        return None, {}
    return bot_api, gateway_telegram_settings(bot_api, uuid.uuid4().hex, "bench.invalid")


@contextlib.contextmanager
def _scratch_stores(scaled: int):
    """The shared stores of a scaled run, with a tracker database of the run's own (dropped after)."""
    if not scaled:
        yield None
        return
    import dataclasses

    from bot.tooling.stores import Stores

    stores = dataclasses.replace(Stores.from_env(), postgres_db=f"sanad_bench_{uuid.uuid4().hex[:8]}")
    stores.check()
    try:
        yield stores
    finally:
        stores.drop_database()


def _post_to_rasa(rasa_url: str, text: str, fund: str) -> None:
    """One message on Rasa's REST channel, in a conversation of its own."""
    import urllib.request

    body = json.dumps({"sender": f"warm-{uuid.uuid4().hex}", "message": text, "metadata": {"fund": fund}})
    request = urllib.request.Request(f"{rasa_url}/webhooks/rest/webhook", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=120).read()


def _warm_up(rasa_url: str, token: str) -> None:
    """First calls build TensorFlow's functions and fill caches: not what a citizen waits for."""
    for text in ("bonjour", "ou payer la cnss ?", "شحال خاصني نخلص", "kifach nkhales casnos"):
        _post_to_rasa(rasa_url, text, "cnss_ma")


def _warm_parse_cache(rasa_url: str) -> None:
    """Every message of the mix sent once, so that the gateway phase (run first) and the direct
    phase find the same warm parse cache (bot/rasa_speedups.py): without this the first phase paid
    for filling it and looked 40% slower than the second. What the phases then measure is a peak
    where every question was asked before; the run with `--parse-cache 0` is the other end."""
    for fund, kinds in load_messages().items():
        for text in (text for texts in kinds.values() for text in texts):
            _post_to_rasa(rasa_url, text, fund)


def _gateway_crowds(gateway, bot_api, citizens: int) -> list[Crowd]:
    """The gateway phase's citizens: a quarter on Telegram (the gateway's fund), the rest on the widget."""
    on_telegram = round(citizens * TELEGRAM_SHARE) if bot_api is not None and citizens > 1 else 0
    secret = gateway.env.get("SANAD_GATEWAY_TELEGRAM_WEBHOOK_SECRET", "")
    return [Crowd(lambda http, fund: WebCitizen(http, gateway.url, fund), citizens - on_telegram),
            Crowd(lambda http, fund: TelegramCitizen(http, gateway.url, bot_api.url, secret), on_telegram,
                  funds=(GATEWAY_FUND,), balance_share=0.0)]


def _channel_figures(crowd: Crowd) -> dict[str, Any]:
    figures = summary(crowd.record)
    return {"citizens": crowd.citizens, "faq": figures["faq"], "all": figures["all"], "errors": figures["errors"],
            "error_kinds": figures["error_kinds"]}


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a and b else None


def bench(citizens: int = 20, duration: float = 30.0, stock: bool = True, say=print, scaled: int = 0,
          rasa_processes: int = 1, parse_cache: Optional[int] = None) -> dict[str, Any]:
    """`rasa_processes` N: N Rasa processes on the embedded stores behind the gateway (`sanad run
    --rasa-processes N`); `scaled` N > 0: N Rasa instances on PostgreSQL and Redis instead (`sanad
    run --scaled N`); the direct phase spreads its citizens over them. `parse_cache`: the Rasa
    servers' SANAD_PARSE_CACHE (0: every message parsed, as if no two citizens wrote alike)."""
    from bot.tooling.training import is_stale, model_path

    model = model_path("sanad")
    if not model.exists():
        raise SystemExit("no trained model: run `sanad train` first")
    load_avg = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sanad-bench-") as scratch, _scratch_stores(scaled) as stores:
        work = Path(scratch)
        outbox = Outbox(work / "sms-outbox")
        backend, actions, rasas, bot_api, gateway = _stack(work, model, stores, scaled, rasa_processes, parse_cache)
        rasa = rasas[0]
        say(f"starting the stack in {work} ...")
        with services.running(backend, actions, rasas, *([bot_api] if bot_api else []), gateway, timeout=300):
            for instance in rasas:
                _warm_up(instance.url, instance.token)
            if parse_cache != 0:
                say("filling the parse caches with every message of the mix ...")
                with concurrent.futures.ThreadPoolExecutor(len(rasas)) as pool:
                    list(pool.map(_warm_parse_cache, [instance.url for instance in rasas]))
            measured = (gateway, *rasas, actions, backend)
            pids = {s.name: s.process.pid for s in measured}
            if bot_api is not None:  # Telegram's stand-in shares the cores too
                pids["telegram_stand_in"] = bot_api.process.pid
            crowds = _gateway_crowds(gateway, bot_api, citizens)
            say(f"gateway: {crowds[0].citizens} citizens on the widget's WebSocket, {crowds[1].citizens} on the "
                f"Telegram webhook, for {duration:g} s ...")
            before = cpu_snapshot(pids)
            asyncio.run(load_crowds(crowds, duration, outbox))
            after_web = cpu_snapshot(pids)
            web = merged(*(crowd.record for crowd in crowds))
            say(f"Rasa's REST channel directly: {citizens} citizens for {duration:g} s ...")
            spread = iter(range(10 ** 9))  # the direct citizens, round robin over the instances
            direct = asyncio.run(load(lambda http, fund: RestCitizen(http, rasas[next(spread) % len(rasas)].url, fund),
                                      citizens, duration, outbox))
            after_direct = cpu_snapshot(pids)
            say(f"POST /model/parse, Sanad's pipeline: {citizens} clients for {duration:g} s ...")
            parse = asyncio.run(parse_load(rasa.url, rasa.token, citizens, duration))
            processes = {s.name: memory(s.process.pid) for s in measured}
        stock_result = _stock(work, citizens, duration, say) if stock else {"available": False, "reason": "--no-stock"}
        if stock_result.get("process"):
            processes["rasa_stock"] = stock_result.pop("process")
    result = summary(web)
    result["by_channel"] = {name: _channel_figures(crowd) for name, crowd in zip(("web", "telegram"), crowds)}
    result["direct"] = summary(direct)
    result["parse"] = summary(parse)["faq"]
    result["stock"] = stock_result
    result["processes"] = processes
    result["cpu_ms_per_reply"] = {"gateway_phase": cpu_per_reply(before, after_web, web),
                                  "direct_phase": cpu_per_reply(after_web, after_direct, direct)}
    result["ratios"] = {
        "gateway_overhead_p50": _ratio(result["faq"].get("p50_ms"), result["direct"]["faq"].get("p50_ms")),
        "gateway_throughput": _ratio(result["all"].get("replies_per_s"), result["direct"]["all"].get("replies_per_s")),
        "stock_parse_p50_vs_sanad": _ratio(stock_result.get("p50_ms"), result["parse"].get("p50_ms")),
    }
    result["run"] = {"citizens": citizens, "duration_s": duration, "cpu_count": os.cpu_count(),
                     "rasa_instances": len(rasas), "stores": "postgresql+redis" if stores else "sqlite",
                     "load_before": [round(x, 2) for x in load_avg],
                     "load_after": [round(x, 2) for x in os.getloadavg()],
                     "model_stale": is_stale("sanad"), "onnx_threads": os.environ.get("SANAD_ONNX_THREADS"),
                     "parse_cache": {"size": parse_cache if parse_cache is not None else "default (SANAD_PARSE_CACHE)",
                                     "warmed_with_every_message": parse_cache != 0}}
    return result


def _stock(work: Path, citizens: int, duration: float, say) -> dict[str, Any]:
    """The same messages through Rasa's stock pipeline (NLU only: `sanad train --stock`)."""
    from bot.tooling.training import model_path

    model = model_path("stock")
    if not model.exists():
        return {"available": False, "reason": "models/stock.tar.gz is not trained (sanad train --stock)"}
    rasa = services.rasa_server(model, "http://127.0.0.1:9/webhook", log=work / "logs" / "rasa-stock.log",
                                SANAD_TRACKER_DB=str(work / "tracker-stock.db"), SANAD_VAR_DIR=str(work))
    say(f"POST /model/parse, Rasa's stock pipeline: {citizens} clients for {duration:g} s ...")
    with services.running(rasa, timeout=300):
        asyncio.run(parse_load(rasa.url, rasa.token, 1, 2.0))  # warm-up
        figures = summary(asyncio.run(parse_load(rasa.url, rasa.token, citizens, duration)))
        process = memory(rasa.process.pid)
    return {"available": True, **figures["faq"], "errors": figures["errors"], "process": process}


def table(result: dict[str, Any]) -> str:
    """The run's figures as the text `sanad bench` prints."""
    lines = [f"{'':28}{'replies/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'n':>7}"]

    def row(name: str, figures: dict[str, Any]) -> None:
        if figures.get("n"):
            lines.append(f"{name:28}{figures['replies_per_s']:>10}{figures['p50_ms']:>9}{figures['p95_ms']:>9}"
                         f"{figures['p99_ms']:>9}{figures['n']:>7}")

    for kind in (*KINDS, "all"):
        row(f"gateway {kind}", result[kind])
    for kind in (*KINDS, "all"):
        row(f"direct {kind}", result["direct"][kind])
    row("parse (Sanad)", result["parse"])
    stock = result["stock"]
    if stock.get("available"):
        row("parse (stock pipeline)", stock)
    else:
        lines.append(f"stock: {stock.get('reason')}")
    for channel, figures in result.get("by_channel", {}).items():
        row(f"gateway {channel} ({figures['citizens']}) all", figures["all"])
    lines.append(f"errors: gateway {result['errors']} {result['error_kinds'] or ''}, "
                 f"direct {result['direct']['errors']} {result['direct']['error_kinds'] or ''}")
    lines.append(f"balance look-ups completed: gateway {result['balance_lookups_completed']}, "
                 f"direct {result['direct']['balance_lookups_completed']}")
    lines.append(f"FAQ p50 by turn of the conversation (gateway): {result['faq_p50_by_turn']}")
    lines.append("peak memory: " + ", ".join(f"{name} {m['peak_mb']} MB" for name, m in result["processes"].items()))
    for phase, spent in result.get("cpu_ms_per_reply", {}).items():
        lines.append(f"CPU ms per reply, {phase.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in spent.items()))
    lines.append(f"ratios: {result['ratios']}")
    lines.append(f"run: {result['run']}")
    return "\n".join(lines)
