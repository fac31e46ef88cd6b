"""Telegram's webhook: `POST /telegram/webhook`, accepted only with the secret token Telegram
was given at setWebhook (header X-Telegram-Bot-Api-Secret-Token, compared in constant time)."""
from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request, Response

logger = logging.getLogger("sanad.gateway.telegram")
router = APIRouter()
MAX_UPDATE_BYTES = 1_000_000


@router.post("/telegram/webhook", include_in_schema=False)
async def telegram_webhook(request: Request) -> Response:
    settings = request.app.state.settings
    channel = request.app.state.telegram
    if channel is None or settings.TELEGRAM_MODE != "webhook":
        return Response(status_code=404)
    given = request.headers.get("x-telegram-bot-api-secret-token")
    expected = settings.TELEGRAM_WEBHOOK_SECRET or ""
    if given is None or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return Response(status_code=403)
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        return Response(status_code=413)
    try:
        data = json.loads(body)
    except ValueError:
        return Response(status_code=400)
    if not isinstance(data, dict) or "update_id" not in data:
        return Response(status_code=400)
    try:
        await channel.process_webhook(data)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        # A body with the secret but no update python-telegram-bot can read (`"message": "text"`,
        # a callback without its chat_instance): refused like malformed JSON, never a 500.
        logger.warning("unreadable Telegram update refused: %s", type(error).__name__)
        return Response(status_code=400)
    return Response(status_code=200)
