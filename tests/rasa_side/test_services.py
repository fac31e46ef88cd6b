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
