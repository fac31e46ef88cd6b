"""How `sanad run` and the tests start their services: Rasa's command parses for every token and
never holds it, ports are never handed out twice, files are private."""
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from bot import rasa_entry, services


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

