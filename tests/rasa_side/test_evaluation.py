"""The evaluations through the live path, with floors asserted in CI: the team's dev set
(shared/eval/dev.yml) and Sanad's own held-out set (tests/data/heldout.yml, written by people who
saw neither the training data nor the dev set).

Floors sit a little under the measured figures (see the issue notes) so that a regression
fails the build while the deterministic training (fixed seeds) keeps it from flaking."""
import json
import math

import pytest

from bot import paths
from bot.tooling import services
from bot.tooling.evaluation import evaluate

pytestmark = pytest.mark.model
EVALUATIONS = {
    # 6 to 30 cases per language: a language may miss 20% of its cases, and at least two (one case
    # is 14 points of a 7-case language; as a bare 0.80 rate the floor allowed arq a single miss).
    "dev": dict(path=paths.DEV_EVAL, floors={"accuracy": 0.90, "out_of_scope_abstention": 0.80},
                ceilings={"wrong": 0.05, "false_abstention": 0.08}, language_floor=0.80),
    # 30 to 50 cases per language. Out-of-scope abstention is measured at 0.89 here (17 of 19);
    # the floor guards against a regression, the gaps are in the issue notes.
    "heldout": dict(path=paths.HELDOUT_EVAL, floors={"accuracy": 0.88, "out_of_scope_abstention": 0.70},
                    ceilings={"wrong": 0.05, "false_abstention": 0.05}, language_floor=0.82),
}


@pytest.fixture(scope="module")
def actions_url():
    actions = services.action_server()
    with services.running(actions):
        yield actions.health_url.rsplit("/", 1)[0]


@pytest.fixture(scope="module", params=sorted(EVALUATIONS))
def evaluation(request, trained_model, actions_url):
    spec = EVALUATIONS[request.param]
    if not spec["path"].exists():
        pytest.skip(f"evaluation cases not found at {spec['path']}")
    return spec, evaluate(spec["path"], trained_model, actions_url)


@pytest.fixture
def report(evaluation):
    return evaluation[1]


def test_report_follows_the_contract(report):
    for key in ("n", "accuracy", "out_of_scope_abstention", "false_abstention", "wrong", "recovered",
                "latency_ms", "by_lang", "by_script", "results"):
        assert key in report
    assert report["n"] == len(report["results"]) and set(report["by_script"]) == {"latn", "arab"}
    json.dumps(report)  # serialisable as the command prints it


def test_floors(evaluation):
    spec, report = evaluation
    for key, floor in spec["floors"].items():
        assert report[key] >= floor, (key, report[key])
    for key, ceiling in spec["ceilings"].items():
        assert report[key] <= ceiling, (key, report[key])
    for lang, figures in report["by_lang"].items():
        assert misses(figures) <= allowed_misses(figures["n"], spec["language_floor"]), (lang, figures)


def misses(figures):
    return round(figures["n"] * (1 - figures["accuracy"]))


def allowed_misses(n, language_floor):
    return max(2, math.floor(n * (1 - language_floor) + 1e-9))


def test_language_floor_in_cases():
    assert [allowed_misses(n, 0.80) for n in (6, 7, 13, 30)] == [2, 2, 2, 6]  # 13 cases: 11/13 passes, 10/13 fails
    assert allowed_misses(50, 0.82) == 9


def test_every_answer_carries_a_source(report):
    assert report["answers_with_source"] == 1.0


def test_replies_are_in_the_citizens_language(report):
    expected = {"fr": {"fr"}, "en": {"en", "fr"}, "ar": {"ar"}, "ary": {"ary", "ar", "fr"}, "arq": {"arq", "ar", "fr"}}
    for r in report["results"]:
        if r["reply_lang"]:
            if r["script"] == "arab":
                assert r["reply_lang"] in {"ar", "ary", "arq"}, r
            assert r["reply_lang"] in expected[r["lang"]], r
