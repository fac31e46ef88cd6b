"""Fixtures of the Rasa-side tests (run with .venvs/rasa). Tests marked `model` use the trained
model and real processes; `make test` trains it first."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bot import paths  # noqa: E402
from bot.tooling import training  # noqa: E402


@pytest.fixture(scope="session")
def trained_model():
    model = training.model_path("sanad")
    if not model.exists():
        pytest.fail("no trained model: run `make model` (or `sanad train`) before the model tests")
    if training.is_stale("sanad", paths.CONFIG):
        pytest.fail("the trained model is stale: its inputs changed since training; run `sanad train`")
    return model


@pytest.fixture
def stores():
    """PostgreSQL and Redis for the scaled topology, a tracker database of its own (tests/rasa_side/scaled.py)."""
    from tests.rasa_side.scaled import fresh_stores

    yield from fresh_stores()
