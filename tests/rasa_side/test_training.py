"""When a trained model is stale: its fingerprint covers the embedding model it was trained with,
because Rasa's own cache would otherwise reuse features computed by another encoder."""
from bot import paths
from bot.tooling import training


def test_another_embedding_model_changes_the_fingerprint(tmp_path, monkeypatch):
    (tmp_path / "modules.json").write_text("[]")
    (tmp_path / "model.onnx").write_bytes(b"int8 weights")
    before = training.fingerprints(paths.CONFIG)
    monkeypatch.setattr(paths, "E5_RUNTIME", tmp_path)
    other = training.fingerprints(paths.CONFIG)
    assert other["embedder"] != before["embedder"]
    assert {k: v for k, v in other.items() if k != "embedder"} == {k: v for k, v in before.items() if k != "embedder"}
    (tmp_path / "model.onnx").write_bytes(b"rebuilt weights, other size")
    assert training.fingerprints(paths.CONFIG)["embedder"] != other["embedder"]


def test_the_stock_pipeline_does_not_depend_on_the_embedding_model():
    assert "embedder" not in training.fingerprints(paths.STOCK_CONFIG)


def test_only_sanads_pipeline_is_retrained_when_its_component_code_changes():
    """The stock pipeline (23 minutes to train on 2 cores) uses none of bot/nlu/."""
    assert "code" in training.fingerprints(paths.CONFIG)
    assert "code" not in training.fingerprints(paths.STOCK_CONFIG)
    assert training.fingerprints(paths.STOCK_CONFIG)["rasa"] == training.fingerprints(paths.CONFIG)["rasa"]
