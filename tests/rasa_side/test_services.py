"""How `sanad run` and the tests start their services: Rasa's command parses for every token and
never holds it, ports are never handed out twice."""
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
