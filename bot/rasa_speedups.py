"""Work Rasa 3.6 does on every turn that needs doing once per process (measured with py-spy on
the Rasa server under 10 concurrent citizens, issue 18; docs/benchmarks.md).

- Each action server reply is checked against Rasa's response schema with `jsonschema.validate`,
  which first checks the schema itself against its meta-schema: 17% of the server's CPU. The
  validator is now built, and its schema checked, once; every reply is still validated in full.
- A stored event's class is looked up by walking every subclass of `Event` (with an
  `inspect.isabstract` check each) for every event read back: about 70% of the time to load a
  conversation, which every turn does. Each type name's class is remembered once found.

`install()` is called by `bot.rasa_entry` before Rasa starts; the redacting tracker store also
remembers event classes on import (any process reading the store)."""
from __future__ import annotations

import functools
from typing import Any, Dict, Optional, Text

from rasa.shared.core.events import Event


def remember_event_classes() -> None:
    """`Event.resolve_by_type` with each type name's class remembered; a name not found (an
    unknown type, or the caller's default returned) is not remembered and goes to Rasa each time."""
    lookup = Event.resolve_by_type
    if getattr(lookup, "remembers", False):
        return
    found: Dict[Text, type] = {}

    def resolve_by_type(type_name: Text, default: Optional[type] = None) -> Optional[type]:
        cls = found.get(type_name)
        if cls is None:
            cls = lookup(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    resolve_by_type.remembers = True  # type: ignore[attr-defined]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


@functools.lru_cache(maxsize=1)
def _action_reply_validator() -> Any:
    """What `jsonschema.validate` builds on every call: the validator class for the schema's
    draft, the schema checked against its meta-schema, the validator."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """`RemoteAction._validate_action_result` with the validator built once: the same error,
    chosen by `best_match` as `jsonschema.validate` does, with Rasa's explanation appended."""
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import DOCS_BASE_URL

    error = best_match(_action_reply_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    from rasa.core.actions.action import RemoteAction

    remember_event_classes()
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
