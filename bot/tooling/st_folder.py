"""The files of a sentence-transformers folder that both model builders write (the torch
checkpoint of bot/tooling/e5_checkpoint.py and its ONNX export of bot/tooling/onnx_export.py)."""
from __future__ import annotations

import json
from pathlib import Path


def write_modules(dest: Path, encoder_type: str) -> None:
    """modules.json of an e5 folder: the encoder (torch Transformer or our ONNX module), then
    sentence-transformers' mean pooling and normalisation."""
    write_json(dest / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": encoder_type},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
