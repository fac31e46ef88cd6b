"""Training the Rasa model, and knowing when it is stale.

A model is stale when any of its inputs changed: NLU data, knowledge base and registry.yml, Rasa
project files, the custom NLU code, the locked environment, or the embedding model it was trained
with. The inputs' fingerprint is stored next to the model; `sanad train` and `sanad run` retrain
only when it differs. None of the knowledge base, the registry, the custom components' code or the
embedding model (SANAD_E5_PATH can point elsewhere) is a Rasa training input, so Rasa's own cache
cannot see them change: a change to any of them forces a full retraining."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Iterable

from bot import paths

logger = logging.getLogger(__name__)


def _files(pattern_roots: Iterable[tuple[Path, str]]) -> list[Path]:
    files = []
    for root, pattern in pattern_roots:
        files += sorted(p for p in root.glob(pattern) if p.is_file())
    return files


def _digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(paths.REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _embedding_model_identity(folder: Path) -> str:
    """Which e5 files a model was trained with: their location, sizes and modification times
    (hashing ~500 MB on every `sanad` call would cost seconds; a rebuild changes the times)."""
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def fingerprints(config: Path) -> dict[str, str]:
    prints = {
        "training": _digest(_files([(paths.NLU_DATA, "*.yml"), (paths.DIALOGUE_DATA, "*.yml")])
                            + [config, paths.DOMAIN]),
        "knowledge": _digest(_files([(paths.KNOWLEDGE, "**/*.yml")]) + [paths.REGISTRY]),
        "rasa": _digest([paths.REPO / "requirements" / "rasa.lock"]),
    }
    pipeline = config.read_text(encoding="utf-8")
    if "bot.nlu." in pipeline:  # Sanad's own components: their code counts (the stock pipeline has none)
        prints["code"] = _digest(_files([(paths.BOT / "nlu", "*.py"), (paths.BOT / "nlu", "*.yml")]))
    if "E5Featurizer" in pipeline:
        prints["embedder"] = _embedding_model_identity(paths.E5_RUNTIME)
    return prints


def model_path(name: str = "sanad") -> Path:
    return paths.MODELS / f"{name}.tar.gz"


def _stamp_path(name: str) -> Path:
    return paths.MODELS / f"{name}.inputs.json"


def is_stale(name: str = "sanad", config: Path = paths.CONFIG, wanted: dict[str, str] | None = None) -> bool:
    stamp = _stamp_path(name)
    if not model_path(name).exists() or not stamp.exists():
        return True
    return json.loads(stamp.read_text()) != (wanted or fingerprints(config))


def train(name: str = "sanad", config: Path = paths.CONFIG, force: bool = False, nlu_only: bool = False) -> Path:
    """Train (or keep) the model `name` from `config`; returns the model path."""
    from rasa.model_training import train as rasa_train
    from rasa.model_training import train_nlu

    wanted = fingerprints(config)
    if not force and not is_stale(name, config, wanted):
        logger.info("model %s is up to date", name)
        return model_path(name)
    previous = json.loads(_stamp_path(name).read_text()) if _stamp_path(name).exists() else {}
    # Rasa's cache keys on data and config, not on our components' code or the embedding model: a
    # change to either must retrain from scratch, or cached features computed before would be reused.
    force = force or any(previous.get(key) != wanted.get(key) for key in ("knowledge", "code", "embedder"))
    paths.MODELS.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    if nlu_only:
        result = train_nlu(str(config), str(paths.NLU_DATA), str(paths.MODELS), fixed_model_name=name,
                           domain=str(paths.DOMAIN))
    else:
        result = rasa_train(
            domain=str(paths.DOMAIN), config=str(config),
            training_files=[str(paths.NLU_DATA), str(paths.DIALOGUE_DATA)],
            output=str(paths.MODELS), fixed_model_name=name, force_training=force,
        )
        result = getattr(result, "model", result)
    if not result:
        raise RuntimeError(f"Rasa training of {name} failed")
    _stamp_path(name).write_text(json.dumps(wanted, indent=2))
    return model_path(name)


def ensure_models(stock: bool = False) -> tuple[Path, Path | None]:
    """Build what is missing or stale. Rasa prints its progress on stdout: it goes to stderr
    here, so that a command's stdout is only its result (`--json`)."""
    import contextlib
    import sys

    with contextlib.redirect_stdout(sys.stderr):
        from bot.tooling.e5_checkpoint import ensure_e5

        ensure_e5()
        model = train("sanad", paths.CONFIG)
        stock_model = train("stock", paths.STOCK_CONFIG, nlu_only=True) if stock else None
    return model, stock_model
