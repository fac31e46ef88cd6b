"""Prometheus metrics of the gateway (counts only: no text, no identifier).

Every label takes its value from a short known list (a channel, an outcome code, a decision kind,
a language; the fund is one the gateway checked when it issued the session, or its own), anything
else becomes "other": a hostile client cannot grow the number of series.

The fallback rate of a dashboard is
`sum(rate(sanad_gateway_decisions_total{kind="out_of_scope"}[5m])) / sum(rate(sanad_gateway_decisions_total[5m]))`
(clarifications: kind="clarify"); deploy/grafana/sanad.json draws it."""
from __future__ import annotations

from typing import Any, Optional

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from bot.registry import registry as sanad_registry  # not the metrics CollectorRegistry

# The `decision` of the actions' custom.sanad block -> the kind counted (as the agent console's
# turn log sorts them, gateway/app/agent/turnlog.py).
DECISION_KINDS = {
    "answer": "answer", "clarify": "clarify", "out_of_scope": "out_of_scope",
    "human_handoff": "handoff", "account_balance": "balance", "unexpected": "unexpected",
    "greet": "small_talk", "goodbye": "small_talk", "thanks": "small_talk", "cancel": "small_talk",
}
HANDOFF_STATUSES = ("waiting", "claimed", "returned", "closed")
BALANCE_STEPS = ("affiliate_number", "birth_date", "otp_code", "result")  # actions/balance/form.py


def known(value: Any, allowed: Any) -> str:
    return value if isinstance(value, str) and value in allowed else "other"


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
        self.decisions = Counter("sanad_gateway_decisions_total",
                                 "Assistant turns by decision kind, citizen language and fund",
                                 ["channel", "kind", "lang", "fund"], registry=self.registry)
        self.handoffs = Counter("sanad_gateway_handoffs_total",
                                "Live handoffs a turn opened or joined, by status",
                                ["channel", "fund", "status"], registry=self.registry)
        self.balance_steps = Counter("sanad_gateway_balance_steps_total",
                                     "Balance look-up turns by the step they reached (the funnel; outcomes "
                                     "are the affiliate API's sanad_backend_verifications_total)",
                                     ["channel", "fund", "step"], registry=self.registry)
        self.crafted_payloads = Counter("sanad_gateway_crafted_payloads_total",
                                        "Button payloads refused as intents (not a shape the assistant issues)",
                                        ["channel"], registry=self.registry)

    async def record_turn(self, channel: str, conversation_id: str, fund: str, text: Optional[str],
                          turn: Any) -> None:
        """A relay observer (gateway/app/relay.py `observers`): the turn's decision and handoff.
        A turn a person held (turn None) is counted by the relay as the outcome `held`."""
        if turn is None:
            return
        block = turn.sanad if isinstance(getattr(turn, "sanad", None), dict) else {}
        detected = block.get("detected") if isinstance(block.get("detected"), dict) else {}
        lang = known(detected.get("lang") or block.get("lang"), sanad_registry().language_ids)
        self.decisions.labels(known(channel, ("web", "telegram")),
                              DECISION_KINDS.get(str(block.get("decision") or ""), "other"), lang, fund).inc()
        if block.get("decision") == "account_balance" and block.get("step"):
            self.balance_steps.labels(known(channel, ("web", "telegram")), fund,
                                      known(block.get("step"), BALANCE_STEPS)).inc()
        handoff = block.get("handoff")
        if isinstance(handoff, dict):
            self.handoffs.labels(known(channel, ("web", "telegram")), fund,
                                 known(handoff.get("status"), HANDOFF_STATUSES)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
