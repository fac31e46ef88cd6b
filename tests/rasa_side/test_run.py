"""`sanad run`, the README's first command, as a fund's IT team would run it under a service
manager: it comes up, answers over HTTP, keeps its files and its Rasa token to its own user,
brings back any of its services killed with `kill -9` (the citizen's next message is answered),
and a SIGTERM stops it with all its child services."""
import asyncio
import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from bot import paths
from bot.tooling import services

pytestmark = pytest.mark.model

NUMBER, BORN = "100204821", "12/03/1980"  # a demo affiliate (backend/README.md)


class SanadRun:
    def __init__(self, process: subprocess.Popen, ports: dict[str, int], var: Path):
        self.process, self.ports, self.var = process, ports, var
        self.output: list[str] = []
        self.up = threading.Event()
        # Read the output all along: the restart notices are checked, and a full pipe would block the run.
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))
            if line.startswith("Sanad is up"):
                self.up.set()
        self.up.set()

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['rasa']}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['SANAD_GATEWAY_PORT']}"

    def service_pids(self) -> dict[str, int]:
        """The run's child services by name, from the kernel's process table."""
        markers = {"backend": "backend.app.manage", "actions": "actions.server", "rasa": "bot.rasa_entry",
                   "gateway": "-m\0gateway"}
        found = {}
        for proc in Path("/proc").iterdir():
            try:
                parent = int(next(line for line in (proc / "status").read_text().splitlines()
                                  if line.startswith("PPid:")).split()[1])
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except (OSError, ValueError, StopIteration):
                continue
            if parent == self.process.pid:
                found.update({name: int(proc.name) for name, marker in markers.items() if marker in cmdline})
        return found


def run_ports() -> dict[str, int]:
    return {name: services.free_port() for name in ("SANAD_BACKEND_PORT", "SANAD_ACTIONS_PORT", "SANAD_GATEWAY_PORT",
                                                    "rasa")}


@contextlib.contextmanager
def sanad_running(ports: dict[str, int], var: Path, *options: str):
    """`sanad run --no-chat` on these ports with this var directory, stopped with SIGTERM at the end
    (and its services with it, whatever happened)."""
    env = {**os.environ, "SANAD_VAR_DIR": str(var), "SANAD_BACKEND_SMS_MAX_PER_AFFILIATE": "100",
           **{k: str(v) for k, v in ports.items() if k.startswith("SANAD_")}}
    for inherited in ("SANAD_TRACKER_DB", "SANAD_BACKEND_DATABASE_URL", "SANAD_BACKEND_SMS_OUTBOX_DIR",
                      "SANAD_RASA_TOKEN"):
        env.pop(inherited, None)
    process = subprocess.Popen([sys.executable, "-m", "bot.tooling.cli", "run", "--no-chat", "--rasa-port", str(ports["rasa"]),
                                *options],
                               cwd=paths.REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    run = SanadRun(process, ports, var)
    try:
        run.up.wait(timeout=600)
        if process.poll() is not None or not any(line.startswith("Sanad is up") for line in run.output):
            pytest.fail(f"sanad run ended before it was up (exit {process.poll()}):\n" + "\n".join(run.output[-30:]))
        yield run
    finally:  # after a failed test: stop it, and its services with it
        if process.poll() is None:
            services_left = run.service_pids()  # before they lose their parent
            process.terminate()
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                for pid in services_left.values():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


@pytest.fixture()
def sanad_run(trained_model, tmp_path):
    # var: created by the run itself, as on a fresh checkout; every file in its default place
    with sanad_running(run_ports(), tmp_path / "var") as run:
        yield run


def rest(run: SanadRun, sender: str, text: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text, "metadata": {"fund": "cnss_ma"}}).encode()
    request = urllib.request.Request(f"{run.rasa_url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def decision(replies: list[dict]) -> dict:
    return next((r["custom"]["sanad"] for r in replies if (r.get("custom") or {}).get("sanad")), {})


def answered_with_source(replies: list[dict]) -> bool:
    return any("Source" in (r.get("text") or "") for r in replies)


def test_sanad_run_answers_keeps_its_files_and_token_private_then_stops_on_sigterm(sanad_run):
    run = sanad_run
    assert answered_with_source(rest(run, "it-check", "comment payer la cnss en ligne"))
    assert all(not services.port_is_free(port) for port in run.ports.values())

    # Files: var/ and every folder in it 0700, every file 0600 (the tracker store, the affiliates'
    # database, the Rasa token, the session secret, the logs).
    for name in ("rasa-token", "rasa-tracker.db", "backend.sqlite3", "gateway-session-secret", "logs/rasa.log"):
        assert (run.var / name).is_file(), name
    modes = {str(p.relative_to(run.var)): stat.S_IMODE(p.stat().st_mode) for p in [run.var, *run.var.rglob("*")]}
    assert {p: m for p, m in modes.items() if m != (0o700 if (run.var / p).is_dir() else 0o600)} == {}

    # The token: in no process's command line (world-readable), only in the environment of the
    # services that need it, which only our user can read; nor in any log.
    token = (run.var / "rasa-token").read_text()
    assert len(token) >= 24
    holders = []
    for proc in Path("/proc").iterdir():
        try:
            if token.encode() in (proc / "cmdline").read_bytes():
                holders.append(proc.name)
        except OSError:
            continue
    assert holders == []
    pids = run.service_pids()
    assert sorted(pids) == ["actions", "backend", "gateway", "rasa"]
    for pid in pids.values():
        environ = Path(f"/proc/{pid}/environ")
        assert environ.stat().st_uid == os.getuid() and stat.S_IMODE(environ.stat().st_mode) & 0o077 == 0
    assert not [log.name for log in (run.var / "logs").iterdir() if token in log.read_text(errors="replace")]

    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=60) == 0
    deadline = time.monotonic() + 20
    while any(not services.port_is_free(port) for port in run.ports.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [name for name, port in run.ports.items() if not services.port_is_free(port)], "child services outlived sanad run"


# --- kill -9 each service in turn: the next citizen message is answered ------------------------------

ANSWER_WITHIN = 150.0  # seconds; Rasa takes 20-40 s to load its model after a restart


def until_answered(ask, what: str) -> float:
    """Seconds until `ask()` (one citizen's attempt, as the citizen or the widget would make it)
    returns true, trying again each second while it fails or errors."""
    started = time.monotonic()
    while time.monotonic() - started < ANSWER_WITHIN:
        try:
            if ask():
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{what}: no answer within {ANSWER_WITHIN:.0f} s")


def balance_look_up(run: SanadRun) -> bool:
    """A citizen's look-up as far as the step that needs the affiliate API (number and birth
    date verified, code sent); with the API down the form says so and ends, and they start over."""
    sender = f"kill-test-{uuid.uuid4().hex[:8]}"
    rest(run, sender, "je veux connaître mon solde")
    rest(run, sender, NUMBER)
    return decision(rest(run, sender, BORN)).get("step") == "otp_code"


def faq_answer(run: SanadRun) -> bool:
    return answered_with_source(rest(run, f"kill-test-{uuid.uuid4().hex[:8]}", "comment payer la cnss en ligne"))


def widget_message(run: SanadRun, token: str, text: str, seen: list[str]) -> bool:
    """One message sent the way the widget sends it (gateway/app/web/static/widget.js): kept until
    answered; sent again `retry_after` seconds after a `retry` (Rasa unreachable), and again after
    reconnecting, with the widget's back-off (0.5 s doubling to 15 s), when the connection is lost.
    `seen` gets what happened: "connected", the events' types, "lost" for a failed connection."""
    import websockets

    client_id = uuid.uuid4().hex
    frame = json.dumps({"type": "message", "client_id": client_id, "text": text, "lang": None, "button": False})

    async def send() -> bool:
        attempt, started = 0, time.monotonic()
        while time.monotonic() - started < ANSWER_WITHIN:
            try:
                async with websockets.connect(run.gateway_url.replace("http", "ws") + "/ws", open_timeout=5) as ws:
                    await ws.send(json.dumps({"type": "hello", "token": token}))
                    assert json.loads(await ws.recv())["type"] == "welcome"
                    seen.append("connected")
                    attempt = 0
                    await ws.send(frame)
                    while True:
                        event = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WITHIN))
                        if event.get("client_id") != client_id:
                            continue
                        seen.append(event["type"])
                        if event["type"] == "bot":
                            return any("Source" in m["text"] for m in event["turn"]["messages"])
                        assert event["type"] in ("received", "retry"), event
                        if event["type"] == "retry":
                            await asyncio.sleep(event["retry_after"])
                            await ws.send(frame)
            except (OSError, websockets.ConnectionClosed, websockets.InvalidStatusCode, asyncio.TimeoutError):
                seen.append("lost")
                await asyncio.sleep(min(15.0, 0.5 * 2 ** attempt))
                attempt += 1
        return False

    return asyncio.run(send())


def web_session(run: SanadRun) -> str:
    request = urllib.request.Request(f"{run.gateway_url}/api/session", data=json.dumps({"fund": "cnss_ma"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["token"]


def test_each_service_killed_in_turn_comes_back_and_the_next_message_is_answered(sanad_run):
    run = sanad_run
    web_token = web_session(run)  # the widget's session, kept in the page across the kills
    question = "comment payer la cnss en ligne"
    seen = {"rasa": [], "gateway": []}
    asks = {
        "backend": lambda: balance_look_up(run),  # the REST channel, up to the step that needs the API
        "actions": lambda: faq_answer(run),  # the REST channel: the answer comes from an action
        "rasa": lambda: widget_message(run, web_token, question, seen["rasa"]),  # kept while Rasa is away
        "gateway": lambda: widget_message(run, web_token, question, seen["gateway"]),  # sent again on reconnection
    }
    assert all(ask() for ask in asks.values())  # each path works before the kills
    seen["rasa"].clear(), seen["gateway"].clear()
    port_of = {"backend": "SANAD_BACKEND_PORT", "actions": "SANAD_ACTIONS_PORT", "rasa": "rasa",
               "gateway": "SANAD_GATEWAY_PORT"}
    seconds = {}
    for name, ask in asks.items():
        before = run.service_pids()
        os.kill(before[name], signal.SIGKILL)
        killed = time.monotonic()
        # The next message comes once the process is gone: one that reaches Rasa while the kernel
        # is still tearing it down (~0.1 s) may have been read, and the gateway rightly does not
        # send it twice but asks the citizen to ask again ("unavailable_gave_up").
        while not services.port_is_free(run.ports[port_of[name]]) and time.monotonic() - killed < 10:
            time.sleep(0.02)
        seconds[name] = round(time.monotonic() - killed + until_answered(ask, f"after kill -9 of {name}"), 1)
        notice = f"{name} exited with code -9; restarting in 2 s (restart 1)"
        assert notice in run.output, run.output[-10:]
        assert notice in (run.var / "logs" / f"{name}.log").read_text(errors="replace")
        assert run.service_pids()[name] != before[name]
    print(f"\nseconds from kill -9 to the next message answered: {json.dumps(seconds)}")
    # Rasa away: the gateway said `retry` and the widget's resend was answered, on one connection.
    assert seen["rasa"][0] == "connected" and "retry" in seen["rasa"] and seen["rasa"][-1] == "bot"
    assert seen["rasa"].count("connected") == 1
    # The gateway away: connections failed until it was back, then the message was answered.
    assert seen["gateway"][0] == "lost" and seen["gateway"][-3:] == ["connected", "received", "bot"]
    assert run.process.poll() is None
    assert all(not services.port_is_free(port) for port in run.ports.values())  # same ports as before


def rasa_pids(run: SanadRun) -> list[int]:
    """The run's Rasa processes, the first port's first (service_pids keeps one per name)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            status = (proc / "status").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"bot.rasa_entry" in cmdline and f"PPid:\t{run.process.pid}\n" in status:
            pids.append((f"--port\0{run.ports['rasa']}\0".encode() not in cmdline, int(proc.name)))
    return [pid for _, pid in sorted(pids)]


def test_two_rasa_processes_on_the_embedded_stores_share_the_conversations_and_cover_for_each_other(
        trained_model, tmp_path):
    """`sanad run --rasa-processes 2`: both on the SQLite file behind the gateway; when one is
    killed its conversations go on with the other, where they were, while it is restarted."""
    ports = run_ports()
    with sanad_running(ports, tmp_path / "var", "--rasa-processes", "2") as run:
        assert any("2 Rasa processes" in line for line in run.output)
        assert not services.port_is_free(ports["rasa"] + 1)  # the second on the next port, loopback
        first, second = rasa_pids(run)
        tokens = [web_session(run) for _ in range(6)]
        seen: list[str] = []
        assert all(widget_message(run, token, "comment payer la cnss en ligne", seen) for token in tokens)
        os.kill(first, signal.SIGKILL)
        while not services.port_is_free(ports["rasa"]):  # gone: no message can reach it half-way
            time.sleep(0.02)
        seen.clear()
        assert all(widget_message(run, token, "comment payer la cnss en ligne", seen) for token in tokens)
        assert seen == ["connected", "received", "bot"] * 6  # each answered at once, none kept for later
        until_answered(lambda: len(rasa_pids(run)) == 2, "the killed Rasa process restarted")
        assert second in rasa_pids(run) and "rasa-1 exited with code -9; restarting in 2 s (restart 1)" in run.output


def test_the_terminal_chat_says_so_and_goes_on_while_rasa_restarts(monkeypatch, capsys):
    from bot.tooling import run as run_module

    typed = iter(["bonjour", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    run_module.terminal_chat(f"http://127.0.0.1:{services.free_port()}", "cnss_ma")  # nothing listens there
    assert "not reachable just now; send your message again in a few seconds" in capsys.readouterr().out


def test_a_whole_restart_resumes_a_balance_look_up_where_it_was(trained_model, tmp_path):
    """Every process of the embedded default stopped (SIGTERM to `sanad run`) in the middle of the
    balance form, then started again: the conversation (SQLite tracker store) and the widget's
    session (its signing secret in var/) go on where they were. The affiliate number typed before
    the stop lived only in the action server's memory (actions/balance/vault.py: personal data is
    never written to disk in the embedded default), so the form, still open, says the verification
    expired and asks for it again; with Redis (`sanad run --scaled`) it is kept (test_scaled.py)."""
    ports, var = run_ports(), tmp_path / "var"
    sender = f"restart-{uuid.uuid4().hex[:8]}"
    with sanad_running(ports, var) as run:
        assert decision(rest(run, sender, "je veux connaitre mon solde cnss")).get("step") == "affiliate_number"
        assert decision(rest(run, sender, NUMBER)).get("step") == "birth_date"
        web_token = web_session(run)
        first_pids = run.service_pids()
        run.process.terminate()
        assert run.process.wait(timeout=40) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in first_pids.values())  # nothing left running
    with sanad_running(ports, var) as run:
        replies = rest(run, sender, BORN)
        assert decision(replies).get("step") == "affiliate_number"  # still inside the form...
        assert "La vérification a expiré" in " ".join(r.get("text") or "" for r in replies)  # ...told why
        assert decision(rest(run, sender, NUMBER)).get("step") == "birth_date"
        assert decision(rest(run, sender, BORN)).get("step") == "otp_code"
        seen: list[str] = []
        assert widget_message(run, web_token, "comment payer la cnss en ligne", seen)  # the same widget session
        assert seen == ["connected", "received", "bot"]
