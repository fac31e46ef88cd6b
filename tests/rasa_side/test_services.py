"""How `sanad run` and the tests start their services: Rasa's command parses for every token and
never holds it, ports are never handed out twice, files are private, a dead service comes back."""
import os
import re
import signal
import stat
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot import rasa_entry
from bot.tooling import services


@pytest.mark.parametrize("token", ["plain-token", "-starts-with-a-dash", "--looks-like-an-option"])
def test_rasa_command_parses_whatever_the_token_and_does_not_hold_it(token):
    from rasa.__main__ import create_argument_parser

    service = services.rasa_server(Path("models/sanad.tar.gz"), "http://127.0.0.1:5055/webhook", port=5005,
                                   token=token)
    # /proc/<pid>/cmdline is readable by every user: the token travels in the environment.
    assert not any(token in part for part in service.command)
    assert service.command[1:4] == ["-m", "bot.rasa_entry", "run"]
    assert service.env[rasa_entry.TOKEN_VARIABLE] == token
    argv = rasa_entry.argv_with_token(["bot/rasa_entry.py", *service.command[3:]], token)
    arguments = create_argument_parser().parse_args(argv[1:])
    assert arguments.auth_token == token and arguments.enable_api and arguments.model == "models/sanad.tar.gz"


def test_free_port_never_hands_out_a_port_twice():
    # The kernel repeats a just-freed port now and then; a stack whose backend and action server
    # got the same port answered the action server's health check with the backend (a CI flake).
    ports = [services.free_port() for _ in range(3000)]
    assert len(set(ports)) == len(ports)


def test_a_service_does_not_start_on_a_port_something_already_listens_on():
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        service = services.Service("actions", ["sleep", "30"], f"http://127.0.0.1:{port}/health")
        with pytest.raises(RuntimeError, match=f"actions: port {port} is already in use"):
            service.start(timeout=5)
        assert service.process is None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _web_service(tmp_path: Path, name: str, port: int, before: str = "") -> services.Service:
    """A real HTTP service (python -m http.server) on `port`, after the shell code `before`."""
    serve = f"exec {sys.executable} -m http.server --bind 127.0.0.1 {port}"
    return services.Service(name, ["sh", "-c", f"{before} {serve}"], f"http://127.0.0.1:{port}/",
                            log=tmp_path / "logs" / f"{name}.log")


def test_var_files_are_written_for_their_owner_only(tmp_path):
    services.write_private(tmp_path / "var" / "rasa-token", "secret")
    assert _mode(tmp_path / "var" / "rasa-token") == 0o600 and _mode(tmp_path / "var") == 0o700
    old_log = tmp_path / "old.log"
    old_log.write_text("left readable by an older run\n")
    old_log.chmod(0o644)
    os.close(services.open_private(old_log))
    assert _mode(old_log) == 0o600

    # What a service writes itself (Rasa's tracker, the backend's SQLite file) is private too.
    service = _web_service(tmp_path, "writer", services.free_port(), before=f"touch {tmp_path / 'written'};")
    with services.running(service, timeout=20):
        assert _mode(tmp_path / "written") == 0o600
    assert _mode(tmp_path / "logs") == 0o700 and _mode(tmp_path / "logs" / "writer.log") == 0o600


def test_a_killed_service_comes_back_on_its_port_and_the_reason_is_told_and_logged(tmp_path):
    told = []
    service = _web_service(tmp_path, "web", services.free_port())
    with services.running(service, timeout=20):
        supervisor = services.Supervisor([service], told.append, timeout=20, first_delay=0.5, poll=0.1).start()
        try:
            first = service.process.pid
            os.kill(first, signal.SIGKILL)
            _wait_for(lambda: len(told) >= 2, 20)
            assert told == ["web exited with code -9; restarting in 0.5 s (restart 1)", "web is back (restart 1)"]
            assert service.process.pid != first
            with urllib.request.urlopen(service.health_url, timeout=5) as response:
                assert response.status == 200
            assert told[0] in (tmp_path / "logs" / "web.log").read_text()
        finally:
            supervisor.stop()
    assert service.process.poll() is not None


def test_a_crash_loop_backs_off_exponentially_up_to_a_cap_and_stop_ends_it(tmp_path):
    # Serves once; every later start fails at once (a service that cannot start any more).
    marker = tmp_path / "served-once"
    service = _web_service(tmp_path, "flaky", services.free_port(),
                           before=f"if [ -e {marker} ]; then exit 3; fi; touch {marker};")
    told = []
    with services.running(service, timeout=20):
        supervisor = services.Supervisor([service], told.append, timeout=5, first_delay=0.1, max_delay=0.4,
                                         poll=0.05).start()
        try:
            os.kill(service.process.pid, signal.SIGKILL)
            _wait_for(lambda: sum("restarting in" in line for line in told) >= 6, 20)
        finally:
            supervisor.stop()
    delays = [float(re.search(r"restarting in ([\d.]+) s", line).group(1)) for line in told if "restarting" in line]
    assert delays[:6] == [0.1, 0.2, 0.4, 0.4, 0.4, 0.4]
    assert "flaky exited with code 3; restarting in 0.2 s (restart 2)" in told
    assert service.process.poll() is not None
    settled = len(told)
    time.sleep(1)  # stopped: nothing is started again
    assert len(told) == settled
