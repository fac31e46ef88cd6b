"""Rasa's command line, with the HTTP API token taken from the environment.

`rasa run --auth-token=T` puts the token in /proc/<pid>/cmdline, which every user of the machine
can read (`ps -ef`). `bot.tooling.services.rasa_server` starts this module instead and hands the token
over in SANAD_RASA_AUTH_TOKEN: a process's environment (/proc/<pid>/environ) is readable only by
its own user. The argument is added in-process, where the process list never sees it, and the
variable is dropped so that nothing Rasa starts inherits it. Every log record of the process is
masked for personal data (bot/log_redaction.py) before Rasa configures its logging.

    python -m bot.rasa_entry run --enable-api --model ...   (same arguments as `python -m rasa`)
"""
from __future__ import annotations

import os
import sys

TOKEN_VARIABLE = "SANAD_RASA_AUTH_TOKEN"


def argv_with_token(argv: list[str], token: str | None) -> list[str]:
    """`argv` with `--auth-token=` right after the sub-command (`run`). Joined to its value: a
    URL-safe token starts with "-" one time in 32, and argparse would read it as an option.
    Not last: Rasa reads a trailing path as the model (`rasa run models/x.tar.gz`)."""
    if not token:
        return list(argv)
    return [*argv[:2], f"--auth-token={token}", *argv[2:]]


def main() -> None:
    sys.argv = argv_with_token(sys.argv, os.environ.pop(TOKEN_VARIABLE, None))
    from bot import log_redaction, rasa_speedups
    from rasa.__main__ import main as rasa_main

    log_redaction.install()  # Rasa logs message texts and intent payloads verbatim in places
    rasa_speedups.install()  # per-turn work Rasa repeats that is needed once per process

    rasa_main()


if __name__ == "__main__":
    main()
