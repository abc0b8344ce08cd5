"""Markdown tables: the leaderboard, the retrain gate and the benchmarks' RESULTS.md write them alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A markdown table; `align` has one letter per column, `l` or `r` (a missing letter: `l`)."""
    rules = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(header))]
    return "\n".join(_line(cells) for cells in (header, rules, *rows))


def _line(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
