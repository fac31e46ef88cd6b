"""NLU training examples written in the format of nlu_data/*.yml (Rasa 3.x YAML, `version: "3.1"`):
the review loop's export (issue 17), made by the gateway's console and read by `rasa data validate`.

Standard library only, like bot/masking.py: the gateway (FastAPI environment) writes the file, the
Rasa environment's tests validate it.

An example is one line of a literal block, so what could end the line or the block early (line
breaks of every kind, control and format characters) becomes a space; and Rasa reads
`[text](entity)` and `[text]{...}` as entity annotations, so the masks of personal data, "[…]",
become a plain "…" and no other square bracket is kept."""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

VERSION = "3.1"
MASK = "[…]"
_BRACKETS = str.maketrans({"[": "(", "]": ")"})


def example_line(text: str) -> str:
    """`text` as one safe example line ("" when nothing is left to learn from)."""
    text = text.replace(MASK, "…").translate(_BRACKETS)
    visible = "".join(" " if unicodedata.category(ch)[0] in ("C", "Z") else ch for ch in text)
    return " ".join(visible.split())


def nlu_yaml(examples: Mapping[str, Iterable[str]], comment: str = "") -> str:
    """The file's text: one `- intent:` block per intent (in the mapping's order), its examples
    de-duplicated (case and spacing aside) across the whole file, in their order; an intent left
    without examples is not written. `comment` opens the file as # lines."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines.append(f'version: "{VERSION}"')
    blocks: list[str] = []
    seen: set[str] = set()
    for intent, texts in examples.items():
        block = []
        for text in texts:
            line = example_line(text)
            key = line.casefold()
            if line and key not in seen:
                seen.add(key)
                block.append(f"    - {line}")
        if block:
            blocks += [f"- intent: {intent}", "  examples: |", *block]
    lines += ["nlu:", *blocks] if blocks else ["nlu: []"]  # `nlu:` alone would be null
    return "\n".join(lines) + "\n"
