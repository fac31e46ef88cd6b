"""`sanad run`, the README's first command, as a fund's IT team would run it under a service
manager: it comes up, answers over HTTP, keeps its files and its Rasa token to its own user, and
a SIGTERM stops it with all its child services."""
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bot import paths, services

pytestmark = pytest.mark.model

class SanadRun:
    def __init__(self, process: subprocess.Popen, ports: dict[str, int], var: Path):
        self.process, self.ports, self.var = process, ports, var
        self.output: list[str] = []
        self.up = threading.Event()
        # Read the output all along: a full pipe would block the run.
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


@pytest.fixture()
def sanad_run(trained_model, tmp_path):
    ports = {name: services.free_port() for name in ("SANAD_BACKEND_PORT", "SANAD_ACTIONS_PORT",
                                                     "SANAD_GATEWAY_PORT", "rasa")}
    var = tmp_path / "var"  # created by the run itself, as on a fresh checkout; every file in its default place
    env = {**os.environ, "SANAD_VAR_DIR": str(var),
           **{k: str(v) for k, v in ports.items() if k.startswith("SANAD_")}}
    for inherited in ("SANAD_TRACKER_DB", "SANAD_BACKEND_DATABASE_URL", "SANAD_BACKEND_SMS_OUTBOX_DIR",
                      "SANAD_RASA_TOKEN"):
        env.pop(inherited, None)
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--no-chat", "--rasa-port", str(ports["rasa"])],
                               cwd=paths.REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    run = SanadRun(process, ports, var)
    try:
        run.up.wait(timeout=600)
        if process.poll() is not None or not any(line.startswith("Sanad is up") for line in run.output):
            pytest.fail(f"sanad run ended before it was up (exit {process.poll()}):\n" + "\n".join(run.output[-30:]))
        yield run
    finally:
        if process.poll() is None:
            process.kill()
        for pid in run.service_pids().values():  # only after a failed test: SIGTERM stops them otherwise
            os.kill(pid, signal.SIGKILL)


def rest(run: SanadRun, sender: str, text: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text, "metadata": {"fund": "cnss_ma"}}).encode()
    request = urllib.request.Request(f"{run.rasa_url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


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

