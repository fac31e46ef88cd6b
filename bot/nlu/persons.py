"""Whether a message names a person (issue 20): "et un vendeur au marché ?" after an answer about
who must join asks the same question for a vegetable seller. Alone it names no topic and reads as
out of scope, exactly like "et le prix du pain ?"; what tells the two apart is that one is about
somebody. A list of words would miss every profession not written in it, in five languages and two
scripts; the e5 embedding places "بائع الخضر" near "تاجر" and "mol chahina" near "mol taxi".

A logistic regression on the e5 vectors of the two lists of persons.yml (`persons` against
`outside`), fitted at training time and stored in the model, gives the probability that a message
is about somebody (a linear probe: the mean of the nearest phrases' similarities separated the
fragments of bot/tooling/followup_fragments.yml far less well, because a message's vector is
dominated by its language and its form). Where it starts to count is fitted by `sanad calibrate`
(`person_min`).

The probe was fitted on bare phrases, so a follow-up in Latin script is also read without its
opening cue ("et pour un boulanger ?" as "un boulanger", "what about a speech therapist?" as "a speech
therapist"), and the higher of the two readings counts. Measured on the follow-up fragments of
bot/tooling/followup_fragments.yml (persons against the out-of-scope and topic-switching ones), ROC
AUC, as typed -> without the cue -> the higher of the two: Latin script 0.946 -> 0.976 -> 0.982,
Arabic script 0.910 -> 0.847 -> 0.852. In Arabic script the glued "و" ("وبائع السمك؟") is part of
the word the encoder reads, and cutting it lost more persons than it found, so there the message
is read as typed (all fragments: 0.934 -> 0.948)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import yaml

from bot.nlu.text import script_of

PERSONS_FILE = Path(__file__).with_name("persons.yml")
# The probe's regularisation: weaker (C=1) hardly separated the fragments' persons from their
# out-of-scope things; stronger (C=100) let single Darija words of the list decide.
PROBE_C = 10.0


@lru_cache(maxsize=1)
def phrases() -> Dict[str, List[str]]:
    """{"persons": [...], "outside": [...]}, every language together (a three-word message's
    language is often a guess, and a person is a person in any of them)."""
    spec = yaml.safe_load(PERSONS_FILE.read_text(encoding="utf-8"))
    return {kind: [str(p) for by_lang in spec[kind].values() for p in by_lang] for kind in ("persons", "outside")}


class PersonProbe:
    """The fitted probe: one weight per embedding dimension and a bias."""

    def __init__(self, weights: np.ndarray, bias: float) -> None:
        self.weights, self.bias = np.asarray(weights, np.float32), float(bias)

    @classmethod
    def build(cls, embedder) -> "PersonProbe":
        from sklearn.linear_model import LogisticRegression

        lists = phrases()
        persons, outside = embedder.embed(lists["persons"]), embedder.embed(lists["outside"])
        features = np.vstack([persons, outside])
        labels = np.r_[np.ones(len(persons)), np.zeros(len(outside))]
        probe = LogisticRegression(C=PROBE_C, class_weight="balanced", max_iter=5000).fit(features, labels)
        return cls(probe.coef_[0], probe.intercept_[0])

    def probabilities(self, embedder, texts: Sequence[str], vectors: Sequence[Optional[np.ndarray]]
                      ) -> List[Optional[float]]:
        """Each message's probability: of its own vector, or of the text without its continuation
        cue when that is higher, for a message in Latin script that opens with a cue (one more
        embedding, batched, for those only). One function for the NLU component and for `sanad
        calibrate`, which fits on it."""
        from bot.nlu.followup import without_cue

        rests = [None if script_of(text) == "arab" else without_cue(text) for text in texts]
        cut = [i for i, rest in enumerate(rests) if rest]
        rest_vectors = dict(zip(cut, embedder.embed([rests[i] for i in cut]))) if cut else {}
        result = []
        for i, vector in enumerate(vectors):
            own, rest = self.probability(vector), self.probability(rest_vectors.get(i))
            result.append(own if rest is None or own is None else max(own, rest))
        return result

    def probability(self, vector: Optional[np.ndarray]) -> Optional[float]:
        """How likely the message is about somebody (None without a vector)."""
        if vector is None:
            return None
        return round(float(1.0 / (1.0 + np.exp(-(self.weights @ vector + self.bias)))), 4)
