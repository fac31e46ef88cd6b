"""What the leak tests share: whether a text the model learns from (a training example, a
retrieval question, a calibration fragment) is an evaluation case copied or lightly edited.
Texts are compared after the NLU's own normalisation, lower-cased and without punctuation; "lightly
edited" is a difflib ratio of at least 0.85, within a few characters on a short message."""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

NEAR = 0.85


def comparable(text: str) -> str:
    from bot.nlu.text import normalise

    return re.sub(r"[^\w ]", "", normalise(text).lower()).strip()


def near_copies(originals: Iterable[str], cases: Iterable[str]) -> list[tuple[str, str]]:
    """(original, case) for every original within NEAR of a case, both compared as `comparable`
    gives them (the originals as written, the cases already comparable)."""
    cases = list(cases)
    leaked = []
    for original in originals:
        text = comparable(original)
        for case in cases:
            matcher = difflib.SequenceMatcher(None, text, case)
            # The cheap upper bounds first: most pairs stop there.
            if matcher.real_quick_ratio() >= NEAR and matcher.quick_ratio() >= NEAR and matcher.ratio() >= NEAR:
                leaked.append((original, case))
    return leaked
