"""Per-turn work Rasa repeats, done once per process (bot/rasa_speedups.py), with the same results."""
import copy

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot import rasa_speedups

ORIGINAL = RemoteAction._validate_action_result
GOOD = {"events": [{"event": "slot", "name": "topic", "value": "payment"}],
        "responses": [{"text": "Vous pouvez payer...", "custom": {"sanad": {"decision": "answer"}}}]}
BAD = [{"events": "not a list"}, {"events": [{"event": 3}]}, {"events": [{"name": "x"}]}, [], "text"]


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    rasa_speedups.install()
    return RemoteAction("action_answer_faq", None)


def test_the_entry_point_installs_them():
    source = open(rasa_speedups.__file__.replace("rasa_speedups.py", "rasa_entry.py")).read()
    assert "rasa_speedups.install()" in source


def test_action_replies_are_validated_as_rasa_does(installed):
    assert RemoteAction._validate_action_result is rasa_speedups.validate_action_result
    assert installed._validate_action_result(copy.deepcopy(GOOD)) is True
    for bad in BAD:
        with pytest.raises(jsonschema.ValidationError) as ours:
            installed._validate_action_result(copy.deepcopy(bad))
        with pytest.raises(jsonschema.ValidationError) as rasas:
            ORIGINAL(installed, copy.deepcopy(bad))
        assert ours.value.message == rasas.value.message and "Failed to validate Action server" in ours.value.message


def test_the_schema_is_checked_once_per_process(installed, monkeypatch):
    installed._validate_action_result(GOOD)  # the validator is built (and its schema checked) here
    checks = []
    for cls in {jsonschema.validators.validator_for(RemoteAction.action_response_format_spec())}:
        check = cls.check_schema
        monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s, *a, **k: checks.append(s) or check(s)))
    for _ in range(20):
        installed._validate_action_result(GOOD)
    assert checks == []
