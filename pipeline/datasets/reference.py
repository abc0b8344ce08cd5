"""What validate@<dataset> keeps of the snapshots it passed (data/reference/<dataset>/, a `persist`
output): a sample of the last one and of the one before, each with the hash of its table.

A new snapshot is compared with the last one. Run again on that same snapshot (after an edit of the
code or of params), it is compared with the one before, so the drift report comes out the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core import storage

if TYPE_CHECKING:
    import pandas as pd

INDEX = "reference.json"  # {"current": {"sha256", "rows"} or None, "previous": ... or None}
SAMPLES = {"current": "current.parquet", "previous": "previous.parquet"}
SEED = 0  # the sample of a snapshot is the same on every run


def _index(directory: Path) -> dict[str, Any]:
    path = Path(directory) / INDEX
    return storage.read_json(path) if path.is_file() else {"current": None, "previous": None}


def baseline(directory: Path, sha256: str) -> tuple[pd.DataFrame | None, int | None]:
    """(sample, row count) of the snapshot before the one whose table hashes to `sha256`; (None, None)
    for the first snapshot."""
    import pandas as pd

    index = _index(directory)
    which = "previous" if (index["current"] or {}).get("sha256") == sha256 else "current"
    if index[which] is None:
        return None, None
    return pd.read_parquet(Path(directory) / SAMPLES[which]), index[which]["rows"]


def keep(directory: Path, frame: pd.DataFrame, sha256: str, max_rows: int) -> None:
    """Make `frame` (its table hashing to `sha256`) the last snapshot passed; all or nothing."""
    directory = Path(directory)
    index = _index(directory)
    if (index["current"] or {}).get("sha256") == sha256:
        return  # the same snapshot again: the one before it stays the baseline
    sample = frame.sample(n=max_rows, random_state=SEED).sort_index() if len(frame) > max_rows else frame
    with storage.atomic_dir(directory) as staging:
        if index["current"] is not None:
            shutil.copyfile(directory / SAMPLES["current"], staging / SAMPLES["previous"])
        sample.to_parquet(staging / SAMPLES["current"], index=False)
        current = {"sha256": sha256, "rows": len(frame)}
        storage.write_json(staging / INDEX, {"current": current, "previous": index["current"]})


def start_empty(directory: Path) -> None:
    """The output of a data set that is no table: an index with no snapshot."""
    storage.write_json(Path(directory) / INDEX, {"current": None, "previous": None})
