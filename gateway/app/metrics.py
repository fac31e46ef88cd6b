"""Prometheus metrics of the gateway (counts only: no text, no identifier)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter("sanad_gateway_messages_total", "Citizen messages by channel and outcome",
                                ["channel", "outcome"], registry=self.registry)
        self.rasa_errors = Counter("sanad_gateway_rasa_errors_total", "Failed calls to Rasa",
                                   ["channel", "delivered"], registry=self.registry)
        self.rasa_latency = Histogram("sanad_gateway_rasa_seconds", "Rasa answer time", ["channel"],
                                      registry=self.registry,
                                      buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        self.sessions = Counter("sanad_gateway_web_sessions_total", "Web sessions issued",
                                registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
