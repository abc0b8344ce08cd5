"""Metric values as read back from JSON files and MLflow tags: a number, or nothing to compare."""

from __future__ import annotations

from typing import Any


def as_number(value: Any) -> float | None:
    """A metric value as float, or None for what is not a number (strings, lists, None, booleans)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
