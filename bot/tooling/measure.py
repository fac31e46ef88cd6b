"""`sanad measure normalisation`: does text normalisation help the embedding side?

Nearest-neighbour topic accuracy of the e5 embedding alone (each evaluation case takes the
label of its most similar training example), with and without `text.normalise`, per language
and script. A cheap, model-free measurement: no training involved."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict

import numpy as np

from bot.tooling.calibration import training_examples
from bot.tooling.evaluation import load_cases
from bot.nlu.embedder import get_embedder


def normalisation(cases_file: Path) -> Dict[str, Dict[str, float]]:
    embedder = get_embedder()
    examples = training_examples()
    labels = np.array([e["intent"] for e in examples])
    cases = load_cases(cases_file)
    out: Dict[str, Dict[str, float]] = {}
    for mode, flag in (("raw", False), ("normalised", True)):
        train = embedder.embed([e["text"] for e in examples], normalised=flag)
        queries = embedder.embed([c.text for c in cases], normalised=flag)
        predicted = labels[np.argmax(queries @ train.T, axis=1)]
        groups: Dict[str, list] = defaultdict(list)
        for case, label in zip(cases, predicted):
            hit = float(label == case.expect)
            groups["all"].append(hit)
            groups[f"{case.lang}/{case.script}"].append(hit)
        out[mode] = {k: round(float(np.mean(v)), 3) for k, v in sorted(groups.items())}
    return out
