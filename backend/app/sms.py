"""Sending the one-time code by SMS.

`SmsSender` is what a fund plugs its SMS gateway into. The default, `OutboxSmsSender`, writes each
message as one JSON file `{"to", "text", "sent_at"}` in SMS_OUTBOX_DIR, which tests and the demo
read with `latest_code`. Nothing here logs the phone number or the text."""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from backend.app.funds import SHORT_NAME, Fund

logger = logging.getLogger("sanad.backend.sms")
_CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


class SmsSender(Protocol):
    def send(self, to: str, text: str) -> None:
        """Deliver `text` to the phone number `to` (E.164), or raise."""


def code_message(fund: Fund, code: str, ttl_seconds: int) -> str:
    minutes = max(1, ttl_seconds // 60)
    return (f"{SHORT_NAME[fund]} / Sanad : votre code de vérification est {code} "
            f"(valable {minutes} min). Ne le communiquez à personne. "
            f"رمز التحقق: {code}")


class OutboxSmsSender:
    def __init__(self, outbox_dir: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.outbox_dir = Path(outbox_dir)
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def send(self, to: str, text: str) -> None:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        # Names sort in sending order; the random part keeps two messages in one nanosecond apart.
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.json"
        message = {"to": to, "text": text, "sent_at": self.clock().isoformat()}
        partial = self.outbox_dir / f".{name}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(message, file, ensure_ascii=False)
        os.replace(partial, self.outbox_dir / name)
        logger.info("SMS written to the outbox (%s)", name)


def outbox_messages(outbox_dir: Path) -> list[dict]:
    """Every message in the outbox, oldest first."""
    folder = Path(outbox_dir)
    if not folder.is_dir():
        return []
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


def latest_code(outbox_dir: Path, phone: str) -> str | None:
    """The one-time code of the last message sent to `phone` (E.164, spaces allowed), if any."""
    wanted = phone.replace(" ", "")
    for message in reversed(outbox_messages(outbox_dir)):
        if message.get("to") == wanted:
            found = _CODE.search(message.get("text", ""))
            return found.group(1) if found else None
    return None
