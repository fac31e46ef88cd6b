"""How the review loop's grouping (bot/review.py) behaves at several cosine distances, on the NLU
training examples: N examples per intent and language, grouped together as a review would be, and
scored against their intents. A harsh proxy (an intent's examples are varied on purpose), used to
choose bot/review.py's DEFAULT_DISTANCE.

    .venvs/rasa/bin/python -m tests.rasa_side.measure_review_grouping [--per-intent 6] [--seed 3]

Prints, per distance: the groups of two or more, the share of texts in them ("grouped"), and the
share of grouped texts whose intent is their group's most common one ("purity")."""
from __future__ import annotations

import argparse
import random
from collections import Counter

import yaml

from bot import paths
from bot.nlu.embedder import get_embedder
from bot.review import cluster

LANGS = ("fr", "ary", "ar", "arq")
DISTANCES = (0.06, 0.08, 0.10, 0.12, 0.14, 0.16)


def sample(per_intent: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, intents = [], []
    for lang in LANGS:
        for block in yaml.safe_load((paths.NLU_DATA / f"{lang}.yml").read_text(encoding="utf-8"))["nlu"]:
            if "intent" not in block:
                continue
            examples = [line.strip()[2:] for line in block["examples"].splitlines() if line.strip().startswith("- ")]
            for text in rng.sample(examples, min(per_intent, len(examples))):
                texts.append(text), intents.append(block["intent"])
    return texts, intents


def scores(groups: list[dict], intents: list[str]) -> dict[str, float]:
    multi = [[intents[i] for i in g["members"]] for g in groups if len(g["members"]) > 1]
    grouped = sum(len(g) for g in multi)
    pure = sum(Counter(g).most_common(1)[0][1] for g in multi)
    return {"groups": len(multi), "grouped": grouped / len(intents), "purity": pure / grouped if grouped else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-intent", type=int, default=6)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    texts, intents = sample(args.per_intent, args.seed)
    embedder = get_embedder()
    print(f"{len(texts)} texts, {len(set(intents))} intents, languages {', '.join(LANGS)}")
    vectors = embedder.embed(texts)

    class Cached:  # embed once, group at every distance
        def embed(self, batch):
            return vectors

    for distance in DISTANCES:
        s = scores(cluster(Cached(), texts, distance), intents)
        print(f"distance {distance:.2f}: {s['groups']:3d} groups of 2+, grouped {s['grouped']:.2f}, purity {s['purity']:.2f}")


if __name__ == "__main__":
    main()
