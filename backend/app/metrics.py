"""Prometheus metrics of the affiliate API (counts and times only: no number, no identifier).

    sanad_backend_request_seconds{method, route}          request latency, by route template
                                                          ("/v1/verifications/{verification_id}/confirm")
    sanad_backend_requests_total{method, route, status}   answers by status code
    sanad_backend_verifications_total{step, outcome}      identity checks: step start | code | phone,
                                                          outcome code_sent | confirmed | refused |
                                                          invalid_code | locked | too_many_codes |
                                                          expired | not_found | invalid | sms_unavailable

Read from the answer's route and status (the contract in backend/openapi.json gives each status
of these routes one meaning), so the routes themselves stay free of counting. The route is the
contract's path template the request matches (FastAPI's own routing object holds only the
included router's relative path); a path no template matches is labelled "unmatched": a client
probing paths cannot grow the number of series.
Served at GET /metrics, without credential, like /health: the API is on the funds' internal
network, never published (docker-compose.yml)."""
from __future__ import annotations

import re
import time
from typing import Callable, Iterable, Optional

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

VERIFICATION_STEPS = {"/v1/verifications": "start", "/v1/verifications/{verification_id}/confirm": "code",
                      "/v1/verifications/{verification_id}/confirm-phone": "phone"}
# What a status means on those routes (backend/app/api/routes/verifications.py).
START_OUTCOMES = {201: "code_sent", 403: "refused", 422: "invalid", 423: "locked", 429: "too_many_codes",
                  503: "sms_unavailable"}
CONFIRM_OUTCOMES = {200: "confirmed", 403: "invalid_code", 404: "not_found", 410: "expired", 422: "invalid",
                    423: "locked"}
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("sanad_backend_request_seconds", "Affiliate API request latency by route",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.requests = Counter("sanad_backend_requests_total", "Affiliate API answers by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.verifications = Counter("sanad_backend_verifications_total", "Identity checks by step and outcome",
                                     ["step", "outcome"], registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route).observe(seconds)
        self.requests.labels(method, route, str(status)).inc()
        step = VERIFICATION_STEPS.get(route) if method == "POST" else None
        if step:
            outcomes = START_OUTCOMES if step == "start" else CONFIRM_OUTCOMES
            self.verifications.labels(step, outcomes.get(status, "other")).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Times every HTTP request and counts its answer under its route template (pure ASGI, so
    that streaming answers and the event loop are untouched). `templates` gives the path
    templates (the app's OpenAPI paths), read at the first request, once every route exists."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: Callable[[], Iterable[str]]) -> None:
        self.app, self.metrics, self._templates = app, metrics, templates
        self._compiled: Optional[list[tuple[re.Pattern, str]]] = None

    def route_of(self, path: str) -> str:
        if self._compiled is None:
            self._compiled = [(compile_path(t)[0], t) for t in self._templates()]
        return next((template for regex, template in self._compiled if regex.match(path)), UNMATCHED)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            route = self.route_of(scope.get("path", ""))
            method = scope.get("method", "") if scope.get("method") in METHODS else "OTHER"
            self.metrics.observe(method, route, status, time.perf_counter() - started)
