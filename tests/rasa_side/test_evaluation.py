"""The development evaluation through the live path, with floors asserted in CI.

Floors sit a little under the measured figures (see the issue notes) so that a regression
fails the build while the deterministic training (fixed seeds) keeps it from flaking."""
import json

import pytest

from bot import paths, services
from bot.evaluation import evaluate

pytestmark = pytest.mark.model
DEV = paths.DEV_EVAL
FLOORS = {"accuracy": 0.90, "out_of_scope_abstention": 0.80}
CEILINGS = {"wrong": 0.05, "false_abstention": 0.08}
LANGUAGE_FLOOR = 0.80  # 7 to 30 cases per language: one or two misses under the measured figure


@pytest.fixture(scope="module")
def report(trained_model):
    if not DEV.exists():
        pytest.skip(f"evaluation cases not found at {DEV}")
    actions = services.action_server()
    with services.running(actions):
        return evaluate(DEV, trained_model, actions.health_url.rsplit("/", 1)[0])


def test_report_follows_the_contract(report):
    for key in ("n", "accuracy", "out_of_scope_abstention", "false_abstention", "wrong", "recovered",
                "latency_ms", "by_lang", "by_script", "results"):
        assert key in report
    assert report["n"] == len(report["results"]) and set(report["by_script"]) == {"latn", "arab"}
    json.dumps(report)  # serialisable as the command prints it


def test_floors(report):
    for key, floor in FLOORS.items():
        assert report[key] >= floor, (key, report[key])
    for key, ceiling in CEILINGS.items():
        assert report[key] <= ceiling, (key, report[key])
    for lang, figures in report["by_lang"].items():
        assert figures["accuracy"] >= LANGUAGE_FLOOR, (lang, figures)


def test_every_answer_carries_a_source(report):
    assert report["answers_with_source"] == 1.0


def test_replies_are_in_the_citizens_language(report):
    expected = {"fr": {"fr"}, "en": {"en", "fr"}, "ar": {"ar"}, "ary": {"ary", "ar", "fr"}, "arq": {"arq", "ar", "fr"}}
    for r in report["results"]:
        if r["reply_lang"]:
            if r["script"] == "arab":
                assert r["reply_lang"] in {"ar", "ary", "arq"}, r
            assert r["reply_lang"] in expected[r["lang"]], r
