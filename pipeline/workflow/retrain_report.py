"""The sections of the retrain report (and pull-request body) read from the pipeline's files.

"Data": per live data set, rows before -> after, rows added and time range, from
data/raw/<dataset>/snapshot.json now and the baseline's. "Drift": each data set's
reports/drift/<dataset>.json status and drifted features. "Champion vs challenger on the same data":
reports/promotion.json (the champion re-scored on this run's test split, its stored value for
reference). A missing file leaves its rows out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.core import markdown, storage
from pipeline.datasets import drift

NO_NEW_DATA = "no new data: nothing retrained"


def read(path: Path) -> dict | None:
    """A JSON report, or None when the stage that writes it did not run here."""
    return storage.read_json(path) if path.is_file() else None


def data_section(now: Mapping[str, dict], before: Mapping[str, dict | None]) -> str:
    """Rows before -> after, rows added and time range of each data set with a snapshot now."""
    if not now:
        return ""
    rows = []
    for dataset, snapshot in sorted(now.items()):
        previous = before.get(dataset) or {}
        old, new = previous.get("rows"), snapshot.get("rows")
        added = new - old if isinstance(old, int) and isinstance(new, int) else None
        span = snapshot.get("time_range")
        rows.append(
            [
                dataset,
                _text(old),
                _text(new),
                f"{added:+d}" if added is not None else "-",
                f"{span[0]} .. {span[1]}" if span else "-",
                _text(snapshot.get("fetched_at")),
            ]
        )
    header = ["data set", "rows before", "rows now", "rows added", "time range", "fetched at"]
    return "### Data\n\n" + markdown.table(header, rows, "lrrrll") + "\n"


def drift_section(reports: Mapping[str, dict]) -> str:
    """Each data set's drift status, the features (and label) that drifted, and its schema warnings
    (values outside an inferred range)."""
    if not reports:
        return ""
    rows = []
    for dataset, report in sorted(reports.items()):
        drifted = drift.drifted(report) if report.get("features") is not None else []
        rows.append(
            [dataset, _text(report.get("status")), _text(report.get("method")), ", ".join(drifted) or "-"]
        )
    warnings = [f"- {w}\n" for _, rep in sorted(reports.items()) for w in rep.get("schema_warnings", [])]
    table = markdown.table(["data set", "status", "method", "drifted"], rows, "llll")
    return "### Drift\n\n" + table + "\n" + ("\nSchema warnings:\n\n" + "".join(warnings) if warnings else "")


def champion_section(promotion: Mapping[str, Any] | None) -> str:
    """Challenger and champion on the same test split, the champion's stored value for reference."""
    entries = {name: entry for name, entry in (promotion or {}).items() if "challenger" in entry}
    if not entries:
        return ""
    rows = [
        [
            dataset,
            _text(entry.get("metric")),
            f"{entry['challenger']['experiment']} {_text(entry['challenger']['value'])}",
            _text(entry.get("champion_on_new_data")),
            _text(entry.get("champion_stored")),
            _text(entry.get("margin")),
            _text(entry.get("decision")),
        ]
        for dataset, entry in sorted(entries.items())
    ]
    header = [
        "data set",
        "metric",
        "challenger",
        "champion on new data",
        "champion stored",
        "margin",
        "decision",
    ]
    notes = [
        f"- {dataset}: {entry['champion_basis']}"
        for dataset, entry in sorted(entries.items())
        if entry.get("champion_basis") and entry.get("champion_on_new_data") is None
    ]
    table = markdown.table(header, rows, "lllrrrl")
    return (
        "### Champion vs challenger on the same data\n\n"
        + table
        + "\n"
        + "".join(f"\n{n}" for n in notes)
        + "\n"
    )


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)
