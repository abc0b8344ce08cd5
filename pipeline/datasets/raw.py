"""A raw data set in memory, as a source kind reads it back from `data/raw/<dataset>/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core import storage
from pipeline.core.errors import PipelineError


@dataclass(frozen=True)
class Raw:
    """Before splitting. `x` is (n, ...) float32 for images / tables / series, or (n,) documents
    (str or object array) for the `text` layout. `test`, when set, is a test split shipped with the data.
    A forecast's `x` is (n, features), the target first."""

    task: str
    layout: str
    x: np.ndarray
    y: np.ndarray | None = None  # None for a univariate series (targets come from windows)
    class_names: tuple[str, ...] | None = None
    test: tuple[np.ndarray, np.ndarray] | None = None
    columns: tuple[str, ...] | None = None  # the name of each column of `x`, where the data has names
    categorical: dict[str, np.ndarray] | None = None  # string columns by name, encoded after the split
    times: np.ndarray | None = None  # a table's `time` column, rows in time order: splits are chronological


def image_classes(
    x: np.ndarray,
    y: np.ndarray,
    class_names: tuple[str, ...],
    test: tuple[np.ndarray, np.ndarray] | None = None,
) -> Raw:
    """Labelled images (n, H, W, C) as float32 pixels and int64 labels, with a shipped test split if any."""
    return Raw(
        task="classification",
        layout="image",
        x=x.astype(np.float32),
        y=y.astype(np.int64),
        class_names=class_names,
        test=None if test is None else (test[0].astype(np.float32), test[1].astype(np.int64)),
    )


def read_meta(raw_dir: Path) -> dict:
    """meta.json of a raw directory, or a PipelineError saying to run the download stage."""
    path = Path(raw_dir) / "meta.json"
    if not path.exists():
        raise PipelineError(f"{path} not found: run `dvc repro download@{Path(raw_dir).name}` first")
    return storage.read_json(path)
