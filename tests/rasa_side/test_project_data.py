"""The Rasa project validates, and the training data is what the issue asks for."""
import subprocess
import sys
from collections import Counter

from bot import paths
from bot.tooling.calibration import fragment_examples, training_examples
from bot.knowledge import TOPICS
from tests.rasa_side.leaks import comparable, near_copies


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


def evaluation_texts(path) -> list[str]:
    """Every text a case file sends: single messages, and conversations' turns (not their button
    payloads, which are no citizen's words)."""
    import yaml

    texts = []
    for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
        texts += [t for t in case.get("turns", [case.get("text")]) if t and not t.startswith("/")]
    return texts


def test_evaluation_cases_are_not_training_data():
    """Neither copied nor lightly edited: a training example, a knowledge-base retrieval question
    or a follow-up fragment the calibration fits on, within a few characters of an evaluation case
    (after normalisation), would inflate the measured accuracy."""
    from bot.knowledge import load_knowledge_base

    cases = [comparable(text) for path in (paths.DEV_EVAL, *paths.HELDOUT_SETS) for text in evaluation_texts(path)]
    kb = load_knowledge_base()
    retrieval_questions = [q for entry in kb.entries.values() for qs in entry.questions.values() for q in qs]
    fragments = [e["text"] for e in fragment_examples()]
    leaked = near_copies([e["text"] for e in training_examples()] + retrieval_questions + fragments, cases)
    assert leaked == [], "\n".join(f"{a} <-> {b}" for a, b in leaked)


def test_the_person_probe_phrases_are_neither_evaluation_cases_nor_fragments():
    """bot/nlu/persons.yml trains the person probe; a phrase that were a held-out follow-up or a
    calibration fragment (once its opening cue is removed) would measure the list against itself."""
    import yaml

    from bot.nlu.followup import without_cue
    from bot.nlu.persons import PERSONS_FILE

    def phrase_of(text: str) -> str:  # the message as the probe also reads it: without its cue
        return comparable(without_cue(text) or text)

    spec = yaml.safe_load(PERSONS_FILE.read_text(encoding="utf-8"))
    phrases = {phrase_of(p) for kind in ("persons", "outside") for ps in spec[kind].values() for p in ps}
    messages = [text for path in paths.HELDOUT_SETS for text in evaluation_texts(path)]
    messages += [e["text"] for e in fragment_examples()]
    assert sorted({m for m in messages if phrase_of(m) in phrases}) == []
