"""The review loop's Rasa side (issue 17, bot/review.py and bot/nlu_yaml.py): the request checks, the
grouping by meaning with the loaded model's own e5 embedder (no second model), the route
POST /webhooks/review/cluster through a real Rasa server behind the API token, and an export file
with hostile texts accepted by Rasa's own `rasa data validate` beside the project's data."""
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import yaml

from bot import paths, review
from bot.tooling import services
from bot.assist import BadRequest
from bot.masking import mask_text
from bot.nlu_yaml import nlu_yaml

# Questions a review would see repeated, in four languages; each pair means the same.
PARAPHRASES = [
    ("est-ce que la cnss donne une bourse pour les etudiants", "la cnss donne t elle des bourses aux etudiants ?"),
    ("quel temps fera-t-il demain à rabat", "il va faire quel temps demain a rabat ?"),
    ("comment changer le mot de passe de mon compte macnss", "j'ai oublié mon mot de passe macnss"),
]


# --- without the model ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, complaint", [
    (["a"], "JSON object"),
    ({}, "`texts`"),
    ({"texts": "one text"}, "`texts`"),
    ({"texts": ["ok", "  "]}, "`texts`"),
    ({"texts": ["ok", 3]}, "`texts`"),
    ({"texts": ["x"] * (review.MAX_TEXTS + 1)}, "more than"),
    ({"texts": ["x" * (review.MAX_TEXT_CHARS + 1)]}, "longer"),
    ({"texts": ["ok"], "distance": 2}, "`distance`"),
    ({"texts": ["ok"], "distance": True}, "`distance`"),
])
def test_bad_requests_say_what_is_wrong(body, complaint):
    with pytest.raises(BadRequest, match=complaint):
        review.check_request(body)


class Vectors:
    """An embedder whose vectors are given: one per text, by its first word."""

    def __init__(self, by_word):
        self.by_word = by_word

    def embed(self, texts):
        vectors = np.array([self.by_word[t.split()[0]] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_groups_follow_the_cosine_distance_largest_first():
    embedder = Vectors({"a": [1, 0, 0], "a2": [0.99, 0.05, 0], "b": [0, 1, 0], "c": [0, 0, 1]})
    texts = ["c one", "a one", "b one", "a2 two", "a three"]
    groups = review.cluster(embedder, texts, distance=0.1)
    assert [g["members"] for g in groups] == [[1, 3, 4], [0], [2]]
    assert groups[0]["representative"] in (1, 4)  # nearest the mean: one of the two identical ones
    assert [g["members"] for g in review.cluster(embedder, texts, distance=0.0001)] == [[1, 4], [0], [2], [3]]
    assert review.cluster(embedder, ["a alone"]) == [{"members": [0], "representative": 0}]
    assert review.cluster(embedder, []) == []


HOSTILE = ["cotisation [enfant](topic) étudiant, mon numéro 123 456 789", "- ma femme: couverte ? # oui",
           "cotisation\u2028pour ma fille née le 12/03/2004", 'واش ولادي مغطيين؟ {"a": 1} [x]{"entity": "y"}',
           "| > & * ! % @ ` ---", "code 482913, tel +212 6 12 34 56 78", "\ufeffbom\u200b et \x85 NEL"]


def test_an_export_with_hostile_texts_passes_rasa_data_validate(tmp_path):
    export = nlu_yaml({"dependants": [mask_text(t) for t in HOSTILE], "out_of_scope": ["quel temps demain"]},
                      comment="review export\nfund cnss_ma")
    for value in ("123 456 789", "12/03/2004", "482913", "+212"):
        assert value not in export
    data = tmp_path / "data"
    shutil.copytree(paths.NLU_DATA, data / "nlu")
    shutil.copytree(paths.REPO / "bot" / "data", data / "dialogue")
    (data / "nlu" / "review.yml").write_text(export, encoding="utf-8")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "rasa", "data", "validate", "--data", str(data),
                             "--domain", str(paths.DOMAIN), "--config", str(paths.CONFIG)],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]

    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    training = RasaYAMLReader().reads(export)
    assert [m.get("intent") for m in training.intent_examples].count("dependants") == len(HOSTILE)
    assert not training.entity_examples  # no bracket of a citizen's became an entity annotation
    assert "cotisation (enfant)(topic) étudiant, mon numéro …" in [m.get("text") for m in training.intent_examples]


# --- with the trained model ------------------------------------------------------------------------

@pytest.mark.model
def test_the_loaded_pipelines_embedder_is_used_never_a_second_one(trained_model, monkeypatch):
    from rasa.core.agent import Agent

    from bot.nlu import embedder

    # Start from an empty cache: other tests of this process may have loaded the embedder already.
    monkeypatch.setattr(embedder, "_embedders", {})
    agent = Agent.load(str(trained_model))
    loaded = review.loaded_embedder(agent)
    assert list(embedder._embedders.values()) == [loaded]  # the one the featurizer and retriever share

    def second_model(*args, **kwargs):
        raise AssertionError("a second e5 model was loaded")

    monkeypatch.setattr(embedder.E5Embedder, "__init__", second_model)
    texts = [text for pair in PARAPHRASES for text in pair]
    groups = review.cluster(review.loaded_embedder(agent), texts)
    assert sorted(sorted(g["members"]) for g in groups) == [[0, 1], [2, 3], [4, 5]]


@pytest.fixture(scope="module")
def rasa(tmp_path_factory, trained_model):
    tmp = tmp_path_factory.mktemp("review")
    server = services.rasa_server(trained_model, "http://127.0.0.1:9/webhook", token="review-test-token",
                                  log=tmp / "rasa.log", SANAD_TRACKER_DB=str(tmp / "tracker.db"))
    with services.running(server):
        yield server


def post(url: str, body, token=None, raw: bytes = None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/webhooks/review/cluster", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.model
def test_route_needs_the_token_and_a_well_formed_body(rasa):
    body = {"texts": ["quel temps demain"]}
    for token in (None, "wrong-token", ""):
        status, answer = post(rasa.url, body, token)
        assert status == 401 and "groups" not in answer, token
    for body, raw in (({"texts": "a"}, None), ({"texts": ["a"], "distance": 9}, None), (None, b"{not json")):
        status, answer = post(rasa.url, body, rasa.token, raw=raw)
        assert status == 400 and answer["error"], (body, raw)
    assert post(rasa.url, {"texts": []}, rasa.token) == (200, {"groups": [], "distance": review.DEFAULT_DISTANCE})


@pytest.mark.model
def test_route_groups_repeated_questions_by_meaning_across_phrasings(rasa):
    texts = ["منحة الطلبة من الضمان الاجتماعي"] + [text for pair in PARAPHRASES for text in pair]
    status, answer = post(rasa.url, {"texts": texts}, rasa.token)
    assert status == 200 and answer["distance"] == review.DEFAULT_DISTANCE
    groups = sorted(sorted(g["members"]) for g in answer["groups"])
    assert groups == [[0], [1, 2], [3, 4], [5, 6]]
    for group in answer["groups"]:
        assert group["representative"] in group["members"]
