"""`sanad calibrate` searches thresholds with a vectorised copy of decide(); the copy must
score every setting exactly as the live decision would, or the fitted thresholds mean nothing."""
import random

import numpy as np
import pytest

from bot.tooling.calibration import RecordArrays, Ranked, _combined, _utility, check_against_decide
from bot.knowledge import TOPICS
from bot.nlu.decision import DIRECT_INTENTS, Thresholds

LABELS = list(TOPICS) + list(DIRECT_INTENTS[:3]) + ["out_of_scope"]


def random_records(n, seed):
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        names = rng.sample(LABELS, 4)
        weights = sorted((rng.random() ** 3 for _ in names), reverse=True)
        total = sum(weights)
        kb_topics = rng.sample(list(TOPICS), 3)
        records.append({
            "text": "x", "lang": rng.choice(["fr", "ar", "ary"]), "expect": rng.choice(LABELS),
            "intent_ranking": [{"name": n_, "confidence": w / total} for n_, w in zip(names, weights)],
            "kb_ranking": [{"topic": t, "score": round(rng.uniform(0.78, 0.95), 3)} for t in kb_topics],
        })
    return records


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_search_scores_like_decide(seed):
    records = random_records(400, seed)
    rng = random.Random(100 + seed)
    t = dict(kb_floor=rng.choice([0.80, 0.86]), kb_span=rng.choice([0.03, 0.09]),
             kb_temperature=rng.choice([0.005, 0.02]), intent_weight=rng.choice([0.3, 0.6, 1.0]),
             intent_min=rng.choice([0.3, 0.6]), answer=rng.choice([0.3, 0.45, 0.6]),
             margin=rng.choice([0.0, 0.1]), clarify=rng.choice([0.15, 0.3]),
             oos_kb_veto=rng.choice([0.87, 1.01]), answer_kb_min=rng.choice([0.0, 0.84, 0.88]))
    arrays = RecordArrays(records)
    _, figures = _utility(arrays, np.ones(len(records), dtype=bool), Ranked(arrays, _combined(arrays, t)),
                          t["intent_min"], t["answer"], t["margin"], t["clarify"], t["oos_kb_veto"], t["answer_kb_min"])
    live = check_against_decide(records, Thresholds(**t))
    assert figures["accuracy"] == pytest.approx(live["accuracy"], abs=1e-4)
    assert figures["wrong"] == pytest.approx(live["wrong"], abs=1e-4)


def test_grid_search_finds_the_best_setting_of_the_reference_utility(monkeypatch):
    """The fast search (all threshold settings at once) against a plain loop over `_utility`."""
    import itertools

    from bot.tooling import calibration

    small = {"kb_floor": [0.80, 0.86], "kb_span": [0.06], "kb_temperature": [0.005, 0.02], "intent_weight": [0.4, 0.7],
             "intent_min": [0.3, 0.6], "answer": [0.35, 0.5, 0.65], "margin": [0.0, 0.1], "clarify": [0.15, 0.3],
             "oos_kb_veto": [0.89, 1.01], "answer_kb_min": [0.0, 0.86]}
    monkeypatch.setattr(calibration, "GRID", small)
    records = random_records(300, 42)
    arrays = RecordArrays(records)
    everything = np.ones(len(records), dtype=bool)
    scored = [_utility(arrays, everything, Ranked(arrays, _combined(arrays, dict(zip(small, values)))), *values[4:])
              for values in itertools.product(*small.values())]
    chosen, utility, _ = calibration.fit(arrays, everything)
    assert utility == pytest.approx(max(u for u, _ in scored), abs=1e-9)
    # With a bound on wrong answers: the best among the settings within it.
    bound = sorted(f["wrong"] for _, f in scored)[len(scored) // 4]
    bounded, bounded_utility, figures = calibration.fit(arrays, everything, max_wrong=bound)
    assert bounded_utility == pytest.approx(max(u for u, f in scored if f["wrong"] <= bound), abs=1e-9)
    assert figures["wrong"] <= bound < max(f["wrong"] for _, f in scored)
    ranked = Ranked(arrays, _combined(arrays, chosen))
    assert _utility(arrays, everything, ranked, *(chosen[k] for k in calibration._DECISION_AXES))[0] == pytest.approx(utility)


def test_confusions_list_the_live_decisions_mistakes_most_frequent_first():
    """`sanad calibrate --confusions`: the contrasts to teach next. Right answers and
    clarifications that offer the expected topic are not listed; the rest are grouped."""
    from bot.tooling.calibration import confusions

    t = Thresholds(intent_min=0.5, answer=0.5, margin=0.1, clarify=0.2, kb_floor=0.99, intent_weight=1.0)

    def record(text, expect, ranking, lang="ar"):
        return {"text": text, "lang": lang, "expect": expect, "kb_ranking": [],
                "intent_ranking": [{"name": n, "confidence": p} for n, p in ranking]}

    records = [
        record("right", "registration", [("registration", 0.9)]),
        record("asked well", "registration", [("eligibility", 0.45), ("registration", 0.4)]),
        record("wrong 1", "contact", [("registration", 0.9)]),
        record("wrong 2", "contact", [("registration", 0.8)]),
        record("unhelpful", "contact", [("payment_channels", 0.45), ("contribution_deadline", 0.4)]),
        record("french", "contact", [("registration", 0.9)], lang="fr"),
    ]
    rows = confusions(records, t, lang="ar")
    assert [(r["expect"], r["got"], r["count"]) for r in rows] == [
        ("contact", "registration", 2), ("contact", "clarify(payment_channels/contribution_deadline)", 1)]
    assert rows[0]["examples"] == ["wrong 1", "wrong 2"]
    assert {r["lang"] for r in confusions(records, t)} == {"ar", "fr"}
