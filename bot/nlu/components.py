"""Sanad's custom Rasa 3.6 NLU components (see bot/config.yml for their order).

    SanadLanguageDetector  language and script of the message -> parse["sanad"]["lang"/"script"]
    NormalisingTokenizer   whitespace tokens of the *normalised* text (for char n-grams)
    E5Featurizer           multilingual-e5-small sentence embedding as a dense feature
    (CountVectorsFeaturizer, DIETClassifier: stock Rasa)
    KnowledgeRetriever     ranks the deployment's knowledge-base entries on the same embedding
    AnswerDecider          answer / clarify / out_of_scope from the intent AND the chosen answer's
                           own score, with calibrated thresholds (bot/calibration.yml)

The fund a message is for comes from the message metadata ({"fund": "<a fund id of registry.yml>"}), else from
SANAD_FUND, so one trained model serves every fund and each deployment sets its own.

A message with nothing to read (empty, only spaces or invisible characters) still goes through
every component without raising: it gets the routing intent `unreadable`, which the dialogue
answers with a request to type the question (bot/data/rules.yml). Surrogate halves, which no
encoder takes, are dropped before the text is embedded or tokenised."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.knowledge import DEFAULT_KB_DIR, TOPICS, known_fund, load_knowledge_base
from bot.nlu import decision
from bot.nlu.context import context_evidence
from bot.nlu.embedder import get_embedder
from bot.nlu.persons import PersonProbe
from bot.nlu.language import detect
from bot.nlu.text import fold_arabizi, has_something_to_read, normalise, read_idioms, without_surrogates

logger = logging.getLogger(__name__)

SANAD = "sanad"  # key of Sanad's own block in the parse result
_VECTOR = "sanad_e5_vector"  # private message attribute: the e5 sentence vector
UNREADABLE = "unreadable"  # routing intent of a message with nothing to read


def message_fund(message: Message) -> str:
    """The fund of the message's metadata when Sanad knows it, else the deployment's."""
    metadata = message.get("metadata") or {}
    return known_fund(metadata.get("fund") if isinstance(metadata, dict) else None)


def _sanad_block(message: Message) -> Dict[Text, Any]:
    block = message.get(SANAD) or {}
    message.set(SANAD, block, add_to_output=True)
    return block


def _texts(messages: List[Message]) -> List[Message]:
    """The messages with something to read (training examples, or a citizen's message)."""
    return [m for m in messages if has_something_to_read(m.get(TEXT))]


def _parsed(messages: List[Message]) -> List[Message]:
    """Every message being parsed, readable or not: each has a text, possibly empty (messages
    without any, such as the intent names Rasa featurises for its policies, are left alone)."""
    return [m for m in messages if isinstance(m.get(TEXT), str)]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SanadLanguageDetector(GraphComponent):
    @classmethod
    def create(cls, config, model_storage, resource, execution_context) -> "SanadLanguageDetector":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in _parsed(messages):
            if without_surrogates(message.get(TEXT)) != message.get(TEXT):  # first component: for all
                message.set(TEXT, without_surrogates(message.get(TEXT)), add_to_output=True)
            block = _sanad_block(message)
            block.update(fund=message_fund(message))
            if has_something_to_read(message.get(TEXT)):  # else the conversation's language holds
                language = detect(message.get(TEXT), block["fund"])
                block.update(lang=language.lang, script=language.script, lang_weak=language.weak)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # training examples carry no language label to predict


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class NormalisingTokenizer(WhitespaceTokenizer):
    """Whitespace tokens of `normalise(text)`: accents, Arabic letter variants, diacritics and
    elongation do not split the character n-gram space. Offsets refer to the normalised text
    (no entity extraction relies on them). Idioms are read as meant first (`text.read_idioms`).
    With `arabizi_fold`, Latin-script words also go
    through `text.fold_arabizi`, so "ch7al" and "chhal" share their n-grams."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "arabizi_fold": False}

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        if attribute != TEXT:
            return super().tokenize(message, attribute)
        text = normalise(read_idioms(message.get(TEXT) or ""))
        if self._config.get("arabizi_fold"):
            text = fold_arabizi(text)
        return super().tokenize(Message(data={TEXT: text}), TEXT)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    """Sentence features from multilingual-e5-small (through sentence-transformers)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "model_path": None}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        path = config.get("model_path")
        self.embedder = get_embedder(Path(path) if path else None)

    @classmethod
    def create(cls, config, model_storage, resource, execution_context) -> "E5Featurizer":
        return cls(config, execution_context.node_name)

    def _featurize(self, messages: List[Message]) -> None:
        if not messages:
            return
        vectors = self.embedder.embed([read_idioms(without_surrogates(m.get(TEXT))) for m in messages])
        for message, vector in zip(messages, vectors):
            message.set(_VECTOR, vector)
            self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)

    def process(self, messages: List[Message]) -> List[Message]:
        # Unreadable messages too: DIET expects this feature on every message it classifies.
        self._featurize(_parsed(messages))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(_texts(training_data.training_examples))
        return training_data


# What the retriever stores in the model: the KB and training phrasings' vectors with their fund
# and topic, and the person probe's weights and bias (bot/nlu/persons.py).
_INDEX_ARRAYS = ("vectors", "funds", "topics", "person_weights", "person_bias")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class KnowledgeRetriever(GraphComponent):
    """Scores each knowledge-base entry of the message's fund by the similarity of the message
    to the entry's known phrasings: the entry's own `questions` (per fund) and the NLU training
    examples of its topic. An entry's score is the mean of its `top_k` best similarities, so
    one lucky near-duplicate does not decide alone. The index is built at training time."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"knowledge_dir": None, "model_path": None, "top_k": 3, "index_training_examples": True}

    def __init__(self, config, model_storage: ModelStorage, resource: Resource,
                 index: Optional[Dict[str, Any]] = None) -> None:
        self.config = config
        self._storage, self._resource = model_storage, resource
        self.index = index or {}
        path = config.get("model_path")
        self.embedder = get_embedder(Path(path) if path else None)
        # A model trained before the person probe (issue 20) has none: no person evidence then.
        self.persons = (PersonProbe(self.index["person_weights"], float(self.index["person_bias"]))
                        if "person_weights" in self.index else None)

    @classmethod
    def create(cls, config, model_storage, resource, execution_context) -> "KnowledgeRetriever":
        return cls(config, model_storage, resource)

    def _kb_dir(self) -> Path:
        return Path(self.config.get("knowledge_dir") or DEFAULT_KB_DIR)

    def train(self, training_data: TrainingData) -> Resource:
        kb = load_knowledge_base(self._kb_dir())
        texts, funds, topics = [], [], []
        for entry in kb.entries.values():
            for phrasings in entry.questions.values():
                for q in phrasings:
                    texts.append(q), funds.append(entry.fund), topics.append(entry.topic)
        vectors = [self.embedder.embed([read_idioms(text) for text in texts])]
        if self.config["index_training_examples"]:
            examples = [m for m in training_data.intent_examples if m.get(INTENT) in TOPICS and m.get(_VECTOR) is not None]
            vectors.append(np.stack([m.get(_VECTOR) for m in examples]) if examples else np.zeros((0, self.embedder.dim), np.float32))
            funds += ["*"] * len(examples)  # training examples hold for both funds
            topics += [m.get(INTENT) for m in examples]
        persons = PersonProbe.build(self.embedder)
        self.index = {"vectors": np.concatenate(vectors).astype(np.float32), "funds": np.array(funds),
                      "topics": np.array(topics), "kb_fingerprint": kb.fingerprint,
                      "person_weights": persons.weights, "person_bias": np.array(persons.bias)}
        self.persons = persons
        self._persist()
        return self._resource

    def _persist(self) -> None:
        with self._storage.write_to(self._resource) as directory:
            np.savez(directory / "index.npz", **{k: self.index[k] for k in _INDEX_ARRAYS})
            (directory / "meta.json").write_text(json.dumps({"kb_fingerprint": self.index["kb_fingerprint"]}))

    @classmethod
    def load(cls, config, model_storage, resource, execution_context, **kwargs) -> "KnowledgeRetriever":
        try:
            with model_storage.read_from(resource) as directory:
                data = np.load(directory / "index.npz")
                meta = json.loads((directory / "meta.json").read_text())
                index = {k: data[k] for k in _INDEX_ARRAYS if k in data} | meta
        except ValueError:
            logger.warning("KnowledgeRetriever: no index in the model; retrieval disabled")
            index = None
        return cls(config, model_storage, resource, index)

    def rank(self, vector: np.ndarray, fund: str) -> List[Dict[str, Any]]:
        if not self.index:
            return []
        sims = self.index["vectors"] @ vector
        mask = (self.index["funds"] == fund) | (self.index["funds"] == "*")
        ranking = []
        for topic in TOPICS:
            scores = sims[mask & (self.index["topics"] == topic)]
            if scores.size:
                best = np.sort(scores)[-self.config["top_k"]:]
                ranking.append({"topic": topic, "score": round(float(best.mean()), 4)})
        return sorted(ranking, key=lambda r: r["score"], reverse=True)

    def process(self, messages: List[Message]) -> List[Message]:
        readable = [m for m in _texts(messages) if m.get(_VECTOR) is not None]
        for message in readable:
            _sanad_block(message)["kb_ranking"] = self.rank(message.get(_VECTOR), message_fund(message))[:5]
        if self.persons is not None and readable:
            texts = [without_surrogates(m.get(TEXT)) for m in readable]
            for message, p in zip(readable, self.persons.probabilities(self.embedder, texts,
                                                                        [m.get(_VECTOR) for m in readable])):
                _sanad_block(message)["person_p"] = p
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class AnswerDecider(GraphComponent):
    """Turns the intent ranking and the KB ranking into Sanad's decision, and routes the
    dialogue through the intent: a topic id (answer), `nlu_fallback` (clarify) or
    `out_of_scope`. The full decision goes to parse["sanad"] for the actions and for
    `sanad eval`, which therefore measure the same path, with what the actions need to decide
    a follow-up in the conversation's context (bot/nlu/context.py)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"calibration_file": None}

    def __init__(self, thresholds: decision.Thresholds) -> None:
        self.thresholds = thresholds

    @classmethod
    def create(cls, config, model_storage, resource, execution_context) -> "AnswerDecider":
        return cls(decision.load_thresholds(config.get("calibration_file")))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in _parsed(messages):
            block = _sanad_block(message)
            if not has_something_to_read(message.get(TEXT)):
                block.update(decision="intent", label=UNREADABLE, confidence=1.0)
                message.set(INTENT, {"name": UNREADABLE, "confidence": 1.0}, add_to_output=True)
                continue
            text, lang = message.get(TEXT), block.get("lang", "fr")
            intent_ranking, kb_ranking = message.get(INTENT_RANKING_KEY) or [], block.get("kb_ranking") or []
            result = decision.decide_message(text, intent_ranking=intent_ranking, kb_ranking=kb_ranking,
                                             thresholds=self.thresholds, lang=lang)
            block.update(result.as_dict())
            block.update(context_evidence(text, intent_ranking, kb_ranking, self.thresholds, lang))
            message.set(INTENT, {"name": result.routing_intent, "confidence": result.confidence}, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
