"""multilingual-e5-small's BERT encoder run by ONNX Runtime, as a sentence-transformers module.

Why: on 2 cores the torch forward of one short message costs ~30 ms, most of it Python dispatch
through transformers' layers; the same graph in ONNX Runtime costs ~11 ms and gives the same
vectors (cosine 1.0000 to the torch checkpoint, checked at build time and by the tests). The
model is still loaded and used through `SentenceTransformer` (this module replaces only its
`Transformer` input module; Pooling and Normalize are sentence-transformers' own), so the
featurizer and the retriever do not change.

`bot.tooling.onnx_export` writes, next to the torch checkpoint, a folder that
`SentenceTransformer(path, trust_remote_code=True)` loads with this class as its first module.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules import InputModule

ONNX_FILE = "model.onnx"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


class OnnxEncoder(InputModule):
    """Tokenizer + ONNX Runtime session producing `token_embeddings` for ST's Pooling module."""

    config_keys = ["max_seq_length", "onnx_file", "hidden_size"]
    config_file_name = "onnx_encoder_config.json"

    def __init__(self, model_dir: str, max_seq_length: int = 512, onnx_file: str = ONNX_FILE,
                 hidden_size: int = 384):
        super().__init__()
        import onnxruntime

        self.model_dir = model_dir
        self.max_seq_length = max_seq_length
        self.onnx_file = onnx_file
        self.hidden_size = hidden_size
        self.tokenizer = _fast_tokenizer(Path(model_dir) / "tokenizer.json", max_seq_length)
        options = onnxruntime.SessionOptions()
        # One message per live turn: both cores on it. SANAD_ONNX_THREADS overrides it on crowded hosts.
        options.intra_op_num_threads = int(os.environ.get("SANAD_ONNX_THREADS", min(2, os.cpu_count() or 1)))
        options.inter_op_num_threads = 1
        # ONNX Runtime's workers spin after each call by default: on 2 cores shared with
        # TensorFlow (DIET) and the action server, that spinning steals the CPU they need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(
            str(Path(model_dir) / onnx_file), options, providers=["CPUExecutionProvider"])

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs) -> dict[str, Any]:
        if prompt:
            inputs = self._prepend_prompt(inputs, prompt)
        encodings = self.tokenizer.encode_batch(list(inputs))
        return {
            "input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.long),
            "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.long),
        }

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        hidden = self.run(features["input_ids"], features["attention_mask"])
        features["token_embeddings"] = torch.from_numpy(hidden)
        return features

    def run(self, input_ids, attention_mask) -> np.ndarray:
        """Last hidden states [batch, tokens, hidden] as float32."""
        return self.session.run(None, {
            "input_ids": np.asarray(input_ids, dtype=np.int64),
            "attention_mask": np.asarray(attention_mask, dtype=np.int64),
        })[0]

    def get_word_embedding_dimension(self) -> int:
        return self.hidden_size

    def get_max_seq_length(self) -> int:
        return self.max_seq_length

    def save(self, output_path: str, *args, **kwargs) -> None:
        out = Path(output_path)
        out.mkdir(parents=True, exist_ok=True)
        for name in (self.onnx_file, *TOKENIZER_FILES):
            if (Path(self.model_dir) / name).resolve() != (out / name).resolve():
                shutil.copy2(Path(self.model_dir) / name, out / name)
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs) -> "OnnxEncoder":
        config = cls.load_config(model_name_or_path, subfolder=subfolder)
        return cls(str(Path(model_name_or_path) / subfolder), **config)


def _fast_tokenizer(path: Path, max_length: int):
    """The checkpoint's own tokenizer.json through the `tokenizers` library directly: the same
    ids as transformers' wrapper, which would hold a second copy of the 250k-piece vocabulary
    in Python (~180 MB more per Rasa process, measured)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    pad = json.loads((path.parent / "special_tokens_map.json").read_text())["pad_token"]
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad), pad_token=pad)
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer
