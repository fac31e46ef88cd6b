"""The review loop's grouping (issue 17): the messages the assistant declined or could not settle,
grouped by meaning with the citizen assistant's own e5 embeddings.

    cluster(embedder, texts, distance)   groups of indices, largest first
    ReviewInput                          Rasa input channel: POST /webhooks/review/cluster
                                         (bot/credentials.yml), behind the Rasa API token

The gateway's console sends texts it has already masked (bot/masking.py); nothing is stored here.
The vectors come from the e5 model the loaded pipeline already holds (its E5Featurizer's), never a
second copy; they are grouped by scikit-learn's agglomerative clustering, average linkage, cosine
distance below a threshold: the number of groups follows from the data.

The default distance, 0.10, was chosen on the NLU training examples (6 per intent and language,
fr/ary/ar/arq, 480 texts; tests/rasa_side/measure_review_grouping.py): at 0.08, 80% of the grouped
texts share their group's intent but only 30% are grouped; at 0.10, 64% and 65%; at 0.12, 51% and
86%. An intent's examples are varied on purpose, so this is a harsh proxy: a review's repeated
questions group more cleanly. The console lets the supervisor leave a group's stray messages out
before exporting it."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.assist import BadRequest, _json_body, bearer_token_is_valid, rasa_api_token

logger = logging.getLogger(__name__)

MAX_TEXTS = 500  # about 5 s of embedding on two cores; the console sends the newest first
MAX_TEXT_CHARS = 1000
DEFAULT_DISTANCE = 0.10
MIN_DISTANCE, MAX_DISTANCE = 0.01, 0.5


def check_request(body: Any) -> tuple[List[str], float]:
    """(texts, distance) from a request body, or BadRequest saying what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: {"texts": [...], "distance": 0.1}')
    texts, distance = body.get("texts"), body.get("distance", DEFAULT_DISTANCE)
    if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
        raise BadRequest("`texts` must be a list of non-empty strings")
    if len(texts) > MAX_TEXTS:
        raise BadRequest(f"`texts` holds more than {MAX_TEXTS} texts")
    if any(len(t) > MAX_TEXT_CHARS for t in texts):
        raise BadRequest(f"a text is longer than {MAX_TEXT_CHARS} characters")
    if isinstance(distance, bool) or not isinstance(distance, (int, float)) \
            or not MIN_DISTANCE <= distance <= MAX_DISTANCE:
        raise BadRequest(f"`distance` must be a number between {MIN_DISTANCE} and {MAX_DISTANCE}")
    return texts, float(distance)


def loaded_embedder(agent) -> Any:
    """The e5 embedder of the loaded model's featurizer: the model in memory, not a second one."""
    from bot.nlu.components import E5Featurizer

    runner = getattr(agent.processor, "graph_runner", None)
    for node in getattr(runner, "_instantiated_nodes", {}).values():
        component = getattr(node, "_component", None)
        if isinstance(component, E5Featurizer):
            return component.embedder
    raise LookupError("the loaded model has no E5Featurizer")


def cluster(embedder, texts: Sequence[str], distance: float = DEFAULT_DISTANCE) -> List[Dict[str, Any]]:
    """Groups of `texts` by meaning: [{"members": [indices], "representative": index}], largest
    first; the representative is the member nearest the group's mean."""
    if not texts:
        return []
    vectors = embedder.embed(list(texts))
    labels = _labels(vectors, distance)
    groups = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre = vectors[members].mean(axis=0)
        representative = int(members[int(np.argmax(vectors[members] @ centre))])
        groups.append({"members": [int(i) for i in members], "representative": representative})
    groups.sort(key=lambda g: (-len(g["members"]), g["members"][0]))
    return groups


def _labels(vectors: np.ndarray, distance: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    if len(vectors) < 2:  # scikit-learn needs two samples to build a tree
        return np.zeros(len(vectors), dtype=int)
    # scikit-learn 1.1 (Rasa 3.6's) names the distance `affinity`; 1.2 and later `metric`.
    options = {"n_clusters": None, "distance_threshold": distance, "linkage": "average"}
    try:
        model = AgglomerativeClustering(metric="cosine", **options)
    except TypeError:
        model = AgglomerativeClustering(affinity="cosine", **options)
    return model.fit_predict(vectors)


class ReviewInput(InputChannel):
    """POST /webhooks/review/cluster {"texts": [...], "distance"?} -> {"groups": [...], "distance"}.
    The gateway's agent console calls it with the Rasa API token; citizens never reach it."""

    @classmethod
    def name(cls) -> str:
        return "review"

    def blueprint(self, on_new_message) -> Blueprint:
        review = Blueprint("review_webhook", __name__)
        token = rasa_api_token()

        @review.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @review.route("/cluster", methods=["POST"])
        async def cluster_route(request: Request) -> HTTPResponse:
            if not bearer_token_is_valid(request.headers.get("Authorization"), token):
                return response.json({"error": "missing or wrong bearer token"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
            try:
                texts, distance = check_request(_json_body(request))
            except BadRequest as problem:
                return response.json({"error": str(problem)}, status=400)
            embedder = _embedder_of(request.app.ctx.agent)
            if embedder is None:
                return response.json({"error": "no model loaded yet"}, status=503)
            # Embedding 500 texts takes seconds: off the event loop, so citizens' turns go on.
            groups = await asyncio.get_running_loop().run_in_executor(None, cluster, embedder, texts, distance)
            return response.json({"groups": groups, "distance": distance})

        return review


def _embedder_of(agent) -> Optional[Any]:
    if agent is None or not agent.is_ready():
        return None
    try:
        return loaded_embedder(agent)
    except LookupError:
        logger.warning("review channel: the loaded model has no e5 featurizer")
        return None
