"""`data/raw/<dataset>/snapshot.json`: what one fetch of a table source holds and where it came from.

{"dataset", "source" (kind and location, secrets masked), "fetched_at" (ISO UTC), "rows", "columns",
"time_range" ([first, last] of the `time` column, or null), "sha256" (of the table file), "check"
(the source's check token when it was fetched)}. The `sources` stage writes that "check" again until
a refresh is asked for, so `git checkout <old> && dvc pull && dvc repro` replays without the source.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipeline.config import TableFields
from pipeline.core import paths, storage
from pipeline.datasets.sources import tables


def plain(value: Any) -> Any:
    """A value from a table or database as JSON: numbers, strings and None as they are, else its text
    (dates in ISO form)."""
    if hasattr(value, "item") and not hasattr(value, "isoformat"):
        value = value.item()  # a NumPy scalar
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _time_range(frame, time: str | None) -> list | None:
    if time is None or frame.empty:
        return None
    values = tables.time_values(frame[time])
    return [plain(values.min()), plain(values.max())]


def write(out: Path, name: str, cfg: TableFields, source: dict, check: dict, frame=None) -> dict:
    """Write meta.json and snapshot.json for the table already saved in raw directory `out` (`frame`:
    that table when the caller holds it, else it is read back)."""
    data = tables.data_file(out)
    if frame is None:
        frame = tables.read_file(data)
    record = {
        "dataset": name,
        "source": source,
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
        "time_range": _time_range(frame, cfg.time if cfg.time in frame.columns else None),
        "sha256": storage.sha256_file(data),
        "check": check,
    }
    storage.write_json(Path(out) / "meta.json", {"source": cfg.source, "task": cfg.task})
    storage.write_json(Path(out) / paths.SNAPSHOT, record)
    return record


def read(raw_dir: Path) -> dict | None:
    """snapshot.json of `raw_dir`, or None when there is no snapshot."""
    path = Path(raw_dir) / paths.SNAPSHOT
    return storage.read_json(path) if path.exists() else None
