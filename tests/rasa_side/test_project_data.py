"""The Rasa project validates, and the training data is what the issue asks for."""
import subprocess
import sys
from collections import Counter

from bot import paths
from bot.calibration import training_examples
from bot.knowledge import TOPICS


def test_rasa_data_validate():
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--domain", str(paths.DOMAIN), "--data",
         str(paths.NLU_DATA), str(paths.DIALOGUE_DATA), "--config", str(paths.CONFIG)],
        capture_output=True, text=True, cwd=paths.REPO, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_enough_examples_per_topic_and_language():
    counts = Counter((e["lang"], e["intent"]) for e in training_examples())
    for lang in ("fr", "ar", "ary", "arq"):
        for topic in TOPICS:
            assert counts[(lang, topic)] >= 15, (lang, topic)
    for label in ("account_balance", "human_handoff", "out_of_scope", "greet", "goodbye", "thanks"):
        assert all(counts[(lang, label)] > 0 for lang in ("fr", "ar", "ary", "arq", "en"))


def test_evaluation_cases_are_not_training_data():
    from pathlib import Path

    import yaml

    dev = paths.DEV_EVAL
    cases = {c["text"].strip().lower() for c in yaml.safe_load(Path(dev).read_text())["cases"]}
    leaked = [e["text"] for e in training_examples() if e["text"].strip().lower() in cases]
    assert leaked == []
