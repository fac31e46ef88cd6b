"""Starting Sanad's processes on one machine: the action server and the Rasa server (and, from
`sanad run`, the FastAPI services of the other environment). Each is a real process on a
loopback port; callers wait until it answers its health route."""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from bot import paths, rasa_entry


def rasa_python() -> str:
    """The Rasa environment's interpreter, whichever environment starts the process."""
    venv = paths.VENV_RASA / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never the same twice in this process.

    The kernel may give the same free port to two bind(0) calls in a row (seen about once in
    10,000), and a stack's ports are all chosen before its first service starts: the action
    server could then be handed the backend's port, fail to bind, and the backend's /health
    would answer in its place. Remembering what was handed out rules that out."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_is_free(port: int) -> bool:
    """Nothing listens on the port. SO_REUSEADDR as the servers set it, so that connections
    of a service just stopped, lingering in TIME_WAIT, do not count."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def base_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def open_private(path: Path, flags: int = os.O_APPEND) -> int:
    """A file descriptor writing to `path`, which only its owner may read, from its first byte:
    logs and the files under var/ hold conversations and credentials (directory created 0700,
    file 0600, an existing file tightened)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    with contextlib.suppress(PermissionError):  # someone else's file: leave its mode alone
        os.fchmod(fd, 0o600)
    return fd


def write_private(path: Path, text: str) -> None:
    fd = open_private(path, os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=base_env)
    log: Optional[Path] = None
    process: Optional[subprocess.Popen] = None
    restarts: int = 0

    def start(self, timeout: float = 120.0) -> "Service":
        self.spawn()
        wait_until_up(self.health_url, self.process, timeout)
        return self

    def spawn(self) -> subprocess.Popen:
        """Start the process without waiting for it to answer."""
        # Something already answering on our port would pass the health check for us.
        port = urllib.parse.urlsplit(self.health_url).port
        if port and not port_is_free(port):
            raise RuntimeError(f"cannot start {self.name}: port {port} is already in use")
        out = open_private(self.log) if self.log else subprocess.DEVNULL
        try:
            # umask 077: what a service writes (SQLite files, the SMS outbox) holds conversations
            # and personal data, for its own user only.
            self.process = subprocess.Popen(self.command, cwd=paths.REPO, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True, umask=0o077)
        finally:
            if self.log:
                os.close(out)  # the child has its own copy
        return self.process

    def note(self, text: str) -> None:
        """A line in the service's log, among its own output (why it was restarted)."""
        if self.log:
            fd = open_private(self.log)
            try:
                os.write(fd, f"{time.strftime('%Y-%m-%d %H:%M:%S')} sanad run: {text}\n".encode())
            finally:
                os.close(fd)

    def kill_leftovers(self) -> None:
        """Kill what remains of a dead service's process group (a worker it started would keep
        its port and stop the restart)."""
        if self.process:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


_SHARED_SECRETS: dict[str, str] = {}


def shared_secret(name: str) -> str:
    """A secret two of the services started from this process must share: the environment's
    value when set (a deployment's own), else one made up once per process, so that the action
    server and the Rasa server (SANAD_ACTIONS_TOKEN), or the gateway and the action server
    (SANAD_CONTACT_SECRET), started separately still agree."""
    if name not in _SHARED_SECRETS:
        _SHARED_SECRETS[name] = os.environ.get(name) or secrets.token_urlsafe(32)
    return _SHARED_SECRETS[name]


def action_server(port: Optional[int] = None, log: Optional[Path] = None, **env: str) -> Service:
    """The action server (actions/server.py): loopback only, Rasa's credential required."""
    port = port or free_port()
    secrets_env = {"SANAD_ACTIONS_TOKEN": shared_secret("SANAD_ACTIONS_TOKEN"),
                   "SANAD_CONTACT_SECRET": shared_secret("SANAD_CONTACT_SECRET")}
    return Service(
        "actions", [rasa_python(), "-m", "actions.server", "--actions", "actions", "--port", str(port)],
        f"http://127.0.0.1:{port}/health", env=base_env(**{**secrets_env, **env}), log=log,
    )


def tracker_db() -> Path:
    """The SQLite file of the conversation store (embedded default), SANAD_TRACKER_DB to move it."""
    path = Path(os.environ.get("SANAD_TRACKER_DB", paths.VAR / "rasa-tracker.db"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


SCALED_ENDPOINTS = paths.BOT / "endpoints.scaled.yml"  # PostgreSQL tracker store, Redis lock store


def rasa_server(model: Path, action_url: str, port: Optional[int] = None, token: Optional[str] = None,
                log: Optional[Path] = None, endpoints: Path = paths.ENDPOINTS, name: str = "rasa", **env: str) -> Service:
    """A Rasa server; `endpoints` SCALED_ENDPOINTS for one of several instances sharing their stores
    (its variables SANAD_POSTGRES_* and SANAD_REDIS_* in `env`: bot/tooling/stores.py)."""
    port = port or free_port()
    token = token or secrets.token_urlsafe(24)
    service = Service(
        name,
        # The token is not on the command line, which every user can read (`ps`): bot.rasa_entry
        # passes it to Rasa from the environment, readable by our own user only.
        [rasa_python(), "-m", "bot.rasa_entry", "run", "--enable-api", "--model", str(model),
         "--endpoints", str(endpoints), "--credentials", str(paths.CREDENTIALS),
         "--port", str(port), "--interface", "127.0.0.1"],
        f"http://127.0.0.1:{port}/",
        env=base_env(SANAD_ACTION_URL=action_url, SANAD_ACTIONS_TOKEN=shared_secret("SANAD_ACTIONS_TOKEN"),
                     **{"SANAD_TRACKER_DB": str(tracker_db()), **env}), log=log,
    )
    service.env[rasa_entry.TOKEN_VARIABLE] = token
    service.token = token  # type: ignore[attr-defined]
    service.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return service


def api_python() -> str:
    """The FastAPI environment's interpreter (backend and gateway run there: pydantic 2)."""
    return str(paths.VENV_API / "bin" / "python")


def backend_server(port: Optional[int] = None, log: Optional[Path] = None, seed: bool = True, **env: str) -> Service:
    """The fund's affiliate API (backend/), migrated and, for the demo, seeded."""
    port = port or free_port()
    command = [api_python(), "-m", "backend.app.manage", "serve", "--port", str(port)] + (["--seed"] if seed else [])
    # The agent console's own credential at the API (gateway_server gets the same one).
    agent_token = {"SANAD_BACKEND_AGENT_TOKENS": shared_secret("SANAD_AGENT_BACKEND_TOKEN")}
    service = Service("backend", command, f"http://127.0.0.1:{port}/health", env=base_env(**{**agent_token, **env}),
                      log=log)
    service.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return service


def gateway_server(rasa_url: str, fund: str, token: str, port: Optional[int] = None,
                   log: Optional[Path] = None, **env: str) -> Service:
    """The channels gateway (web widget, Telegram when SANAD_GATEWAY_TELEGRAM_BOT_TOKEN is set)."""
    port = port or free_port()
    secret_file = paths.VAR / "gateway-session-secret"
    if not secret_file.exists():
        write_private(secret_file, secrets.token_urlsafe(32))
    service = Service(
        "gateway", [api_python(), "-m", "gateway"], f"http://127.0.0.1:{port}/health",
        env=base_env(SANAD_GATEWAY_RASA_URL=rasa_url, SANAD_GATEWAY_FUND=fund, SANAD_GATEWAY_PORT=str(port),
                     SANAD_GATEWAY_RASA_TOKEN=token, SANAD_GATEWAY_SESSION_SECRET=secret_file.read_text().strip(),
                     SANAD_GATEWAY_CONTACT_SECRET=shared_secret("SANAD_CONTACT_SECRET"),
                     SANAD_GATEWAY_AGENT_BACKEND_TOKEN=shared_secret("SANAD_AGENT_BACKEND_TOKEN"), **env),
        log=log)
    service.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return service


Group = Sequence[Service]  # services started at once (several Rasa instances: 20-40 s each to load)


def flat(services: Sequence[Service | Group]) -> list[Service]:
    return [one for item in services for one in (item if isinstance(item, (list, tuple)) else [item])]


@contextlib.contextmanager
def running(*services: Service | Group, timeout: float = 180.0) -> Iterator[tuple[Service, ...]]:
    """Start each service in turn, waiting for it to answer; a list or tuple among them is a group
    whose processes are all spawned before the first is waited for. Stopped in reverse order."""
    started: list[Service] = []
    try:
        for item in services:
            group = item if isinstance(item, (list, tuple)) else [item]
            for service in group:
                service.spawn()
                started.append(service)
            for service in group:
                wait_until_up(service.health_url, service.process, timeout)
        yield tuple(flat(services))
    finally:
        for service in reversed(started):
            service.stop()


RESTART_DELAY = 2.0  # seconds before a crashed service is started again
RESTART_DELAY_MAX = 60.0  # the delay doubles with each crash in a row, up to this
STABLE_AFTER = 60.0  # a service that ran this long before it died starts the back-off afresh


def restart_delay(crashes_in_a_row: int, first: float = RESTART_DELAY, cap: float = RESTART_DELAY_MAX) -> float:
    return min(first * 2 ** (crashes_in_a_row - 1), cap)


class Supervisor:
    """Keeps started services running. A service whose process ends (a crash, `kill -9`, the
    out-of-memory killer) is started again with the same command, port and environment, so the
    others' URLs, the Rasa token and the session secret stay valid; after a delay that doubles
    with each crash in a row (a service that cannot start costs one attempt a minute, not a CPU).
    Why goes to `say` (the run's output) and to the service's log.

    Here rather than supervisord or circus: the services' start (port check, health wait,
    environment) is already this module's, and supervisord's restarts have no exponential
    back-off and give up for good after `startretries`. One thread per service, because a
    restarted Rasa needs ~30 s to answer and a crash elsewhere meanwhile must not wait for it."""

    def __init__(self, services: Sequence[Service], say: Callable[[str], None] = print,
                 timeout: float = 180.0, first_delay: float = RESTART_DELAY, max_delay: float = RESTART_DELAY_MAX,
                 poll: float = 0.5) -> None:
        self.services, self.say, self.timeout, self.poll = list(services), say, timeout, poll
        self.first_delay, self.max_delay = first_delay, max_delay
        self._stopping = threading.Event()
        self._spawning = threading.Lock()  # no process is started once stop() has begun
        self._threads = [threading.Thread(target=self._keep_running, args=(s,), name=f"supervise-{s.name}",
                                          daemon=True) for s in self.services]

    def start(self) -> "Supervisor":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        with self._spawning:
            self._stopping.set()
        for service in reversed(self.services):
            service.stop()  # also ends a restart's wait for its health route
        for thread in self._threads:
            thread.join(timeout=5)

    def _keep_running(self, service: Service) -> None:
        crashes = 0
        while True:
            up_since = time.monotonic()
            code = self._wait_for_exit(service)
            if code is None:
                return
            crashes = 1 if time.monotonic() - up_since >= STABLE_AFTER else crashes + 1
            delay = restart_delay(crashes, self.first_delay, self.max_delay)
            service.restarts += 1
            self._tell(service, f"{service.name} exited with code {code}; "
                                f"restarting in {delay:g} s (restart {service.restarts})")
            service.kill_leftovers()
            if self._stopping.wait(delay) or not self._restart(service):
                return

    def _wait_for_exit(self, service: Service) -> Optional[int]:
        """The exit code, or None when the supervisor stops first."""
        while not self._stopping.wait(self.poll):
            code = service.process.poll()
            if code is not None:
                return None if self._stopping.is_set() else code
        return None

    def _restart(self, service: Service) -> bool:
        """Start the service again; False when the supervisor is stopping."""
        with self._spawning:
            if self._stopping.is_set():
                return False
            try:
                service.spawn()
            except (OSError, RuntimeError) as error:  # its port taken, its interpreter gone
                self._tell(service, f"{service.name} could not start: {error}")
                return True  # the old process's exit is seen again: the next delay is longer
        try:
            wait_until_up(service.health_url, service.process, self.timeout)
        except (RuntimeError, TimeoutError) as error:
            if self._stopping.is_set():
                return False
            self._tell(service, f"{service.name} did not come back: {error}")
            service.stop()
        else:
            self._tell(service, f"{service.name} is back (restart {service.restarts})")
        return True

    def _tell(self, service: Service, text: str) -> None:
        self.say(text)
        service.note(text)


@contextlib.contextmanager
def supervised(*services: Service | Group, say: Callable[[str], None] = print,
               timeout: float = 180.0) -> Iterator[tuple[Service, ...]]:
    """`running`, and each service restarted when its process ends (see Supervisor)."""
    with running(*services, timeout=timeout) as started:
        supervisor = Supervisor(started, say, timeout).start()
        try:
            yield started
        finally:
            supervisor.stop()
