"""The action server's entry point: rasa-sdk's server, closed to everyone but Rasa.

`python -m rasa_sdk` listens on every interface (0.0.0.0) and runs any action for any caller,
with whatever tracker the caller sends: a forged tracker was enough to read a balance. Here:

- it listens on SANAD_ACTIONS_HOST, loopback unless configured otherwise (the Docker
  deployment sets 0.0.0.0 on its internal network, where the port is not published);
- every route but /health and /health/ready requires `Authorization: Bearer <SANAD_ACTIONS_TOKEN>`,
  the credential Rasa sends (bot/endpoints.yml `action_endpoint.headers`); without a token
  configured it refuses to start;
- /metrics serves Prometheus metrics (actions/metrics.py), open like the health checks;
- /health is liveness (rasa-sdk's own); /health/ready is readiness: 200 once the knowledge base
  is loaded, 503 `knowledge_base_unavailable` when it cannot be, with the affiliate API's state
  beside it (`backend`: ok | unavailable | unreachable) for information only: without it the FAQ
  answers go on and the balance look-up apologises, so it does not make the server unready;
- an error answers a short JSON body instead of rasa-sdk's, which echoes the request (the
  tracker, with its slots) back to the caller, and its log line is masked (bot/log_redaction.py).

    python -m actions.server --port 5055 [--actions actions]"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import sys

import aiohttp
from sanic import Sanic, response
from sanic.request import Request

from actions import metrics
from bot import log_redaction

logger = logging.getLogger("sanad.actions.server")
TOKEN_ENV, HOST_ENV = "SANAD_ACTIONS_TOKEN", "SANAD_ACTIONS_HOST"
READY_ROUTE = "/health/ready"
OPEN_ROUTES = frozenset({"/health", READY_ROUTE, metrics.METRICS_ROUTE})


def authorised(request: Request, token: str) -> bool:
    scheme, _, presented = (request.headers.get("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def protect(app: Sanic, token: str) -> Sanic:
    """Require Rasa's credential on every route but the health check; errors without echo."""

    @app.middleware("request")
    async def require_token(request: Request):
        if request.path not in OPEN_ROUTES and not authorised(request, token):
            return response.json({"error": "unauthorised"}, status=401)

    @app.exception(Exception)
    async def on_error(request: Request, exception: Exception):
        logger.error("action call failed (%s)", type(exception).__name__, exc_info=exception)
        return response.json({"error": "action server error"}, status=500)

    return app


async def backend_state(timeout: float = 2.0) -> str:
    """The affiliate API's readiness, as the balance look-up will find it."""
    url = os.environ.get("SANAD_BACKEND_URL", "http://127.0.0.1:8100").rstrip("/") + "/health/ready"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(url) as answer:
                return "ok" if answer.status == 200 else "unavailable"
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return "unreachable"


def add_readiness(app: Sanic) -> Sanic:
    @app.get(READY_ROUTE)
    async def ready(request: Request):
        from actions.context import knowledge_base

        try:
            entries = len(knowledge_base().entries)
        except Exception as error:  # noqa: BLE001 - a broken knowledge file: not ready, say why in the log
            logger.error("knowledge base not loaded (%s)", type(error).__name__)
            return response.json({"status": "knowledge_base_unavailable"}, status=503)
        return response.json({"status": "ok", "knowledge_entries": entries, "backend": await backend_state()})

    return app


def create_app(actions_package: str, token: str) -> Sanic:
    from rasa_sdk.endpoint import create_app as create_sdk_app
    from rasa_sdk.executor import ActionExecutor
    from rasa_sdk.plugin import plugin_manager

    executor = ActionExecutor()  # only to know the action names the metrics may carry as labels
    executor.register_package(actions_package)
    app = create_sdk_app(actions_package, cors_origins=None)  # no browser calls it
    app = protect(metrics.instrument(add_readiness(app), executor.actions), token)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def main(argv: list[str] | None = None) -> int:
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME

    parser = argparse.ArgumentParser(description="Sanad's action server (rasa-sdk, token-protected)")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions")
    parser.add_argument("--loglevel", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV)
    if not token:
        print(f"{TOKEN_ENV} is not set: the action server refuses to start without Rasa's credential",
              file=sys.stderr)
        return 2
    log_redaction.install()
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), None, args.loglevel, None)
    utils.update_sanic_log_level()
    host = os.environ.get(HOST_ENV, "127.0.0.1")
    app = create_app(args.actions, token)
    logger.info("action server listening on %s:%s", host, args.port)
    app.run(host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
