"""Whether a message names a person (issue 20): "et un vendeur au marché ?" after an answer about
who must join asks the same question for a vegetable seller. Alone it names no topic and reads as
out of scope, exactly like "et le prix du pain ?"; what tells the two apart is that one is about
somebody. A list of words would miss every profession not written in it, in five languages and two
scripts; the e5 embedding places "بائع الخضر" near "تاجر" and "mol chahina" near "mol taxi".

A logistic regression on the e5 vectors of the two lists of persons.yml (`persons` against
`outside`), fitted at training time and stored in the model, gives the probability that a message
is about somebody (a linear probe: the mean of the nearest phrases' similarities separated the
fragments of bot/tooling/followup_fragments.yml far less well, because a message's vector is
dominated by its language and its form). For the same reason the probe learns every phrase of both
lists bare and in the forms a follow-up takes in its language and script (`FOLLOWUP_FORMS`: "et
pour {p} ?", "w {p}?", "وماذا عن {p}؟"): the same forms on both sides carry no evidence, so the
weights go to what the phrase is about. Bare phrases alone left "pour un carreleur c pareil ?" at
0.22 although "un carreleur" is in the list. Where it starts to count is fitted by `sanad
calibrate` (`person_min`)."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import yaml

PERSONS_FILE = Path(__file__).with_name("persons.yml")
# The probe's regularisation: weaker (C=1) hardly separated the fragments' persons from their
# out-of-scope things; stronger (C=100) let single Darija words of the list decide.
PROBE_C = 10.0


# How a follow-up about somebody (or something) is written, by language and, for Darija, script:
# each phrase is learnt bare and in each of these forms (the cues of bot/nlu/followup.py).
FOLLOWUP_FORMS: Dict[str, List[str]] = {
    "fr": ["et {p} ?", "et pour {p} ?", "pour {p} c'est pareil ?"],
    "en": ["and {p}?", "what about {p}?", "same for {p}?"],
    "ar": ["و{p}؟", "وماذا عن {p}؟", "وبالنسبة ل{p}؟"],
    "ary": ["و{p}؟", "و{p} كيفاش؟", "وبالنسبة ل{p}؟"],
    "ary-latn": ["w {p}?", "w {p} kifach?", "w bnisba l {p}?"],
    "arq": ["و{p}؟", "و{p} كيفاش؟", "وعلى {p}؟"],
    "arq-latn": ["w {p}?", "w {p} kifach?", "w 3la {p}?"],
}
_ARABIC_LETTER = re.compile(r"[\u0600-\u06FF]")


def in_followup_forms(phrase: str, lang: str) -> List[str]:
    """The phrase bare and in its language's follow-up forms (Darija: in its script's)."""
    forms = FOLLOWUP_FORMS.get(lang, [])
    if lang in ("ary", "arq") and not _ARABIC_LETTER.search(phrase):
        forms = FOLLOWUP_FORMS[f"{lang}-latn"]
    return [phrase] + [form.format(p=phrase) for form in forms]


@lru_cache(maxsize=1)
def phrases() -> Dict[str, List[str]]:
    """{"persons": [...], "outside": [...]}, every language together (a three-word message's
    language is often a guess, and a person is a person in any of them), each phrase bare and in
    its language's follow-up forms."""
    spec = yaml.safe_load(PERSONS_FILE.read_text(encoding="utf-8"))
    return {kind: [text for lang, by_lang in spec[kind].items() for p in by_lang
                   for text in in_followup_forms(str(p), lang)]
            for kind in ("persons", "outside")}


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

    def probability(self, vector: Optional[np.ndarray]) -> Optional[float]:
        """How likely the message is about somebody (None without a vector)."""
        if vector is None:
            return None
        return round(float(1.0 / (1.0 + np.exp(-(self.weights @ vector + self.bias)))), 4)
