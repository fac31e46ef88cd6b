"""`python -m gateway`: the gateway on SANAD_GATEWAY_HOST:SANAD_GATEWAY_PORT (127.0.0.1:8000)."""
from __future__ import annotations

import logging

import uvicorn
from pydantic import ValidationError

from bot import json_logs
from gateway.app.config import Settings
from gateway.app.main import create_app

WS_MAX_SIZE = 64 * 1024  # a bigger WebSocket frame closes the connection (1009) before it is read
GRACEFUL_SHUTDOWN_SECONDS = 5


def server_config(app: object, settings: Settings, **overrides: object) -> uvicorn.Config:
    """How the gateway is served (the tests serve their apps with it too). proxy_headers is off:
    uvicorn's own would believe X-Forwarded-For from 127.0.0.1 by default; the app reads it only
    from SANAD_GATEWAY_TRUSTED_PROXIES (create_app)."""
    options: dict = {"host": settings.HOST, "port": settings.PORT, "ws_max_size": WS_MAX_SIZE,
                     "proxy_headers": False, "log_level": "info",
                     # an open agent console keeps an event stream (/agent/api/inbox/events) that
                     # never ends by itself: a stopping gateway cuts it after this long
                     "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS, **overrides}
    return uvicorn.Config(app, **options)


def main() -> None:
    # SANAD_LOG_FORMAT=json: one masked JSON object per line (bot/json_logs.py), uvicorn's loggers
    # included (log_config=None leaves them to the root handler).
    json_lines = json_logs.configure("gateway")
    if not json_lines:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s  %(message)s")
    try:
        settings = Settings()
    except ValidationError as error:  # a configuration mistake: say which, without a traceback
        raise SystemExit(f"gateway: invalid settings\n{error}") from None
    uvicorn.Server(server_config(create_app(settings), settings,
                                 **({"log_config": None} if json_lines else {}))).run()


if __name__ == "__main__":
    main()
