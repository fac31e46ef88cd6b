"""deploy/grafana/sanad.json: valid JSON that Grafana imports (panels with Prometheus queries),
and every Sanad metric a query names is one the code exposes (gateway/app/metrics.py,
backend/app/metrics.py, actions/metrics.py), with the labels the query filters or groups on."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from actions.metrics import REGISTRY as ACTIONS_REGISTRY
from backend.app.metrics import Metrics as BackendMetrics
from gateway.app.metrics import Metrics as GatewayMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "sanad.json"
PROMETHEUS_OWN = {"up"}  # scrape health, Prometheus's own series
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exposed() -> dict[str, set[str]]:
    """Every series name the code can expose -> its label names."""
    names: dict[str, set[str]] = {}
    for registry in (GatewayMetrics().registry, BackendMetrics().registry, ACTIONS_REGISTRY):
        for collector in list(registry._collector_to_names):  # noqa: SLF001 - unlabelled families too
            for family in collector.describe():
                labels = set(getattr(collector, "_labelnames", ()))
                for suffix in SUFFIXES.get(family.type, ("",)):
                    names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


def queries(dashboard: dict) -> list[str]:
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    found += [v["definition"] for v in dashboard["templating"]["list"] if v.get("definition")]
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_the_dashboard_is_grafana_json_with_a_query_per_panel(dashboard):
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 30
    graphs = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(graphs) >= 10
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in graphs:
        assert panel["datasource"]["type"] == "prometheus" and panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr


def test_every_metric_and_label_a_query_names_exists_in_the_code(dashboard):
    names = exposed()
    used = set()
    for expr in queries(dashboard):
        for metric in re.findall(r"\b(sanad_[a-z_]+|up)\b(?:\{([^}]*)\})?", expr):
            name, selector = metric
            used.add(name)
            if name in PROMETHEUS_OWN:
                continue
            assert name in names, f"{name} (in {expr}) is not a metric of the code"
            for label in re.findall(r"([a-z_]+)\s*=~?", selector):
                assert label in names[name], f"{name} has no label {label!r}"
        for group in re.findall(r"by \(([^)]*)\)", expr):
            metric_names = [n for n in re.findall(r"\bsanad_[a-z_]+\b", expr)]
            for label in (g.strip() for g in group.split(",")):
                assert any(label in names.get(n, set()) for n in metric_names), f"no {label!r} on {metric_names}"
    # The dashboard draws what issue 19 asks for: latency, decisions, fallback, handoffs, look-ups.
    assert {"sanad_gateway_rasa_seconds_bucket", "sanad_gateway_decisions_total", "sanad_gateway_handoffs_total",
            "sanad_gateway_balance_steps_total", "sanad_backend_request_seconds_bucket",
            "sanad_backend_verifications_total"} <= used
