"""Log records of the Rasa and action servers are masked where they are made (bot/log_redaction.py)."""
from __future__ import annotations

import io
import logging
import warnings

import pytest

from bot import log_redaction


@pytest.fixture
def captured():
    """A logger writing to a buffer through a handler added after install(), as Rasa adds its own."""
    factory, show_warning = logging.getLogRecordFactory(), warnings.showwarning
    log_redaction._installed = False
    log_redaction.install()
    buffer = io.StringIO()
    logger = logging.getLogger("test.log_redaction")
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, buffer
    logger.removeHandler(handler)
    logging.setLogRecordFactory(factory)
    warnings.showwarning = show_warning
    log_redaction._installed = False


def test_intent_payloads_and_texts_are_masked_whatever_the_handler(captured):
    logger, buffer = captured
    logger.info("Received user message '%s'", '/inform{"affiliate_number": "100204821"}')
    logger.debug('/share_contact{"phone": "+212600000101"} born 12/03/1980, né le 12 mars 1980')
    logger.warning("code %s", "482913")
    written = buffer.getvalue()
    for secret in ("100204821", "+212600000101", "212600000101", "12/03/1980", "12 mars 1980", "482913"):
        assert secret not in written
    assert "Received user message" in written and "[…]" in written


def test_an_exception_text_quoting_a_value_is_masked(captured):
    logger, buffer = captured
    try:
        {}["100 204 821"]
    except KeyError:
        logger.exception("lookup failed")
    written = buffer.getvalue()
    assert "lookup failed" in written and "KeyError" in written
    assert "100 204 821" not in written


def test_warnings_are_masked_too():
    """Rasa reports an intent payload it cannot parse with warnings.warn, not with logging
    (end to end: test_balance_flow's intent-payload test scans rasa.log)."""
    shown = []
    masked = log_redaction.masking_warnings(lambda message, *rest: shown.append(message))
    masked("Failed to parse arguments in line '/inform{\"affiliate_number\": \"100204821\"}'", UserWarning, "io.py", 100)
    assert "Failed to parse arguments" in shown[0] and "100204821" not in shown[0]
