"""How `sanad run` and the tests start Rasa: the command must parse for every token."""
from pathlib import Path

import pytest

from bot import services


@pytest.mark.parametrize("token", ["plain-token", "-starts-with-a-dash", "--looks-like-an-option"])
def test_rasa_command_parses_whatever_the_token(token):
    from rasa.__main__ import create_argument_parser

    command = services.rasa_server(Path("models/sanad.tar.gz"), "http://127.0.0.1:5055/webhook", port=5005,
                                   token=token).command
    assert command[1:4] == ["-m", "rasa", "run"]
    arguments = create_argument_parser().parse_args(command[3:])
    assert arguments.auth_token == token and arguments.enable_api


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
