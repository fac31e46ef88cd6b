"""Personal data kept out of the logs of the Rasa server and the action server.

Rasa logs what it is given in several places that no setting turns off: a message's text when
the NLU fails, an intent payload copied verbatim (`/inform{"affiliate_number": ...}`,
`/share_contact{...}`, also as a Python warning), a tracker dump at debug level. Rather than
chase each call, every log record and every warning is masked where it is made: `install()` wraps the log record factory, so whatever handler
or format Rasa configures later, the message it formats has identifiers, phone numbers and dates
masked as in the stored conversation history (bot/masking.py)."""
from __future__ import annotations

import logging
import warnings

from bot.masking import mask_text

_installed = False


def masked_message(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not lose the record
        message = str(record.msg)
    return mask_text(message) or message


def install() -> None:
    """Mask every log record of this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.msg, record.args = masked_message(record), None
        if record.exc_info and record.exc_info[1] is not None:
            # Exception texts may quote a value (a KeyError on a number, a request body).
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(redacting_factory)
    warnings.showwarning = masking_warnings(warnings.showwarning)
    _installed = True


def masking_warnings(show_warning):
    """`warnings.showwarning` that masks the message first: Rasa warns with the payload it could
    not parse ('/inform{"affiliate_number": ...}')."""

    def masked_warning(message, category, filename, lineno, file=None, line=None):
        show_warning(mask_text(str(message)), category, filename, lineno, file, line)

    return masked_warning
