"""Prometheus metrics of the action server (counts and times only: no text, no identifier).

- `sanad_actions_runs_total{action, status}` and `sanad_actions_run_seconds{action}`: every call
  Rasa makes to `/webhook`, by the action it asked for (one of the domain's actions, else
  "other": a caller cannot grow the number of series) and the HTTP status answered;
- `sanad_actions_balance_results_total{fund, result}`: how each balance look-up ended, as the
  citizen was told (shown, session_expired, locked, unavailable) or cancelled.

Served on `/metrics`, open like `/health` (actions/server.py): the action server listens on
loopback or on the deployment's internal network only. One registry per process: with
ACTION_SERVER_SANIC_WORKERS above 1 each worker counts its own (rasa-sdk's default is one)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from bot.registry import registry

if TYPE_CHECKING:  # Sanic is imported where it runs: the dashboard's test reads REGISTRY without it
    from sanic import Sanic
    from sanic.request import Request

METRICS_ROUTE = "/metrics"
BALANCE_RESULTS = ("shown", "session_expired", "locked", "unavailable", "cancelled")
REGISTRY = CollectorRegistry()
RUNS = Counter("sanad_actions_runs_total", "Action calls from Rasa by action and HTTP status",
               ["action", "status"], registry=REGISTRY)
RUN_SECONDS = Histogram("sanad_actions_run_seconds", "Time to run an action, by action", ["action"],
                        registry=REGISTRY, buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
BALANCE = Counter("sanad_actions_balance_results_total", "Balance look-ups by fund and how they ended",
                  ["fund", "result"], registry=REGISTRY)


def balance_result(fund: str, result: str) -> None:
    BALANCE.labels(fund=fund if registry().is_fund(fund) else "other",
                   result=result if result in BALANCE_RESULTS else "other").inc()


def _action_of(request: "Request", known: frozenset) -> str:
    try:
        name = (request.json or {}).get("next_action")
    except Exception:  # noqa: BLE001 - a body that is not JSON: rasa-sdk answers it, we count it
        name = None
    return name if isinstance(name, str) and name in known else "other"


def instrument(app: "Sanic", action_names: Iterable[str]) -> "Sanic":
    """Time every /webhook call and serve the registry on /metrics."""
    from sanic import response

    known = frozenset(action_names)

    @app.middleware("request")
    async def start_clock(request: "Request"):
        if request.path == "/webhook":
            request.ctx.action, request.ctx.started = _action_of(request, known), time.perf_counter()

    @app.middleware("response")
    async def stop_clock(request: "Request", answer):
        if getattr(request.ctx, "started", None) is not None:
            RUN_SECONDS.labels(action=request.ctx.action).observe(time.perf_counter() - request.ctx.started)
            RUNS.labels(action=request.ctx.action, status=str(getattr(answer, "status", 500))).inc()

    @app.get(METRICS_ROUTE)
    async def metrics(request: "Request"):
        return response.raw(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

    return app
