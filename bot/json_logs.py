"""JSON log lines with personal data masked, for a log collector (opt-in: SANAD_LOG_FORMAT=json).

One JSON object per line on stderr: `time` (UTC, ISO 8601), `level`, `service`, `logger`,
`message`, and `error` (the exception's type and masked traceback) when there is one. Every
message, and every traceback, goes through bot.masking.mask_text first, the function of the
conversation store: an affiliate number, a birth date, a one-time code or a phone number that a
message or an exception quotes is written "[…]".

Standard library only, so the FastAPI services (gateway, affiliate API) use it as they are; the
uvicorn servers are then started with `log_config=None`, so that their own loggers (access
lines included) reach this handler instead of uvicorn's plain-text ones."""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Optional, TextIO

from bot.masking import mask_text

FORMAT_VARIABLE = "SANAD_LOG_FORMAT"


def wanted() -> bool:
    """The operator asked for JSON lines (SANAD_LOG_FORMAT=json)."""
    return os.environ.get(FORMAT_VARIABLE, "").strip().lower() == "json"


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = str(record.msg)
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                        + f".{int(record.msecs):03d}Z",
                "level": record.levelname, "service": self.service, "logger": record.name,
                "message": mask_text(message) or message}
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = mask_text(self.formatException(record.exc_info))
        elif record.exc_text:
            line["error"] = mask_text(record.exc_text)
        return json.dumps(line, ensure_ascii=False)


def configure(service: str, level: int = logging.INFO, stream: Optional[TextIO] = None) -> bool:
    """When JSON lines are wanted: the root logger writes them (its other handlers removed) and
    True; else nothing changes and False (the caller keeps its plain format)."""
    if not wanted():
        return False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return True
