"""Exporting the e5 encoder to ONNX at build time (`sanad model build`): the graph, the
sentence-transformers folder around it that bot/nlu/onnx_encoder.py's `OnnxEncoder` loads, and
the check that its vectors match torch's. Build-time only: the Rasa runtime never imports it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from bot.nlu.onnx_encoder import ONNX_FILE, TOKENIZER_FILES, OnnxEncoder
from bot.tooling.st_folder import write_json, write_modules

# Sentences the export is checked on: both scripts, code-switching, and a padded batch.
_CHECK_TEXTS = [
    "query: ou payer la cnss sans aller a l'agence",
    "query: كيف أدفع عبر منصة ضمانكم؟",
    "query: chhal kankhles f chher l amo",
    "query: salam",
]


def export_onnx_checkpoint(torch_checkpoint: Path, dest: Path) -> Path:
    """Export the BERT encoder of `torch_checkpoint` to ONNX and lay out a sentence-transformers
    folder around it in `dest`. Fails if the exported graph's vectors differ from torch's."""
    from transformers import AutoModel

    dest.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(str(torch_checkpoint)).eval()
    _export_graph(model, dest / ONNX_FILE)
    for name in TOKENIZER_FILES:
        shutil.copy2(torch_checkpoint / name, dest / name)
    for sub in ("1_Pooling", "2_Normalize"):
        shutil.copytree(torch_checkpoint / sub, dest / sub, dirs_exist_ok=True)
    for name in ("config_sentence_transformers.json", "source.json"):
        shutil.copy2(torch_checkpoint / name, dest / name)
    max_len = json.loads((torch_checkpoint / "sentence_bert_config.json").read_text())["max_seq_length"]
    write_json(dest / OnnxEncoder.config_file_name,
               {"max_seq_length": max_len, "onnx_file": ONNX_FILE, "hidden_size": model.config.hidden_size})
    write_modules(dest, f"{OnnxEncoder.__module__}.{OnnxEncoder.__name__}")
    worst = max_vector_gap(torch_checkpoint, dest)
    if worst > 1e-4:
        raise RuntimeError(f"ONNX export of {torch_checkpoint} drifts from torch (1 - cosine = {worst:.2e})")
    return dest


def _export_graph(model, target: Path) -> None:
    class LastHiddenState(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    # Traced on a padded batch so that the attention-mask path is part of the graph (with an
    # all-ones mask transformers skips building the mask and the trace would drop it).
    ids = torch.tensor([[0, 10, 11, 12, 13, 14, 2], [0, 15, 16, 2, 1, 1, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]])
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(model), (ids, mask), str(target), input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"], opset_version=17, dynamo=False,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
        )


def max_vector_gap(torch_checkpoint: Path, onnx_checkpoint: Path) -> float:
    """Largest 1 - cosine between the two checkpoints' sentence vectors, one by one and batched."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(torch_checkpoint), device="cpu")
    candidate = SentenceTransformer(str(onnx_checkpoint), device="cpu", trust_remote_code=True)
    batched = [m.encode(_CHECK_TEXTS, normalize_embeddings=True) for m in (reference, candidate)]
    single = [np.vstack([m.encode([t], normalize_embeddings=True) for t in _CHECK_TEXTS]) for m in (reference, candidate)]
    gaps = [1 - (a * b).sum(axis=1) for a, b in (batched, single)]
    return float(max(g.max() for g in gaps))
