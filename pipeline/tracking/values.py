"""Params, metrics and tags in the form MLflow takes: nested dicts flattened, keys cleaned, values cut."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE = 8000  # mlflow.utils.validation.MAX_TAG_VAL_LENGTH
MAX_KEY = 250  # mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH

_BAD_KEY_CHARACTERS = re.compile(r"[^\w\-./ :]")


def flatten(mapping: Mapping[str, Any], separator: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, separator, name))
        else:
            flat[name] = value
    return flat


def param_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    return text[:MAX_PARAM_VALUE]


def key(name: str) -> str:
    """A metric/param key MLflow accepts (letters, digits, _ - . / space :); others become _."""
    return _BAD_KEY_CHARACTERS.sub("_", name)[:MAX_KEY]


def tag_list(tags: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import RunTag

    return [RunTag(key(name), str(value)[:MAX_TAG_VALUE]) for name, value in tags.items()]
