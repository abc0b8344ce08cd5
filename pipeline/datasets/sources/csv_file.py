"""A user's CSV file (local path or http(s) URL with a pinned sha256) with a target column.

Raw layout: `data.csv` (the file as given) and `meta.json`. Reading picks the columns params.yaml
names (`features` / `drop`; never `target` or `time`); string columns come back as they are, for
preprocess to encode with statistics of the training split only.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from pipeline.config import CsvSource
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download
from pipeline.datasets.raw import Raw


def fetch(name: str, cfg: CsvSource, out: Path) -> None:
    scheme = urlparse(cfg.path).scheme
    if scheme in ("http", "https"):
        if cfg.sha256 is None:
            raise PipelineError(f"datasets.{name}.sha256 is required for a CSV fetched from {cfg.path}")
        download.fetch(cfg.path, cfg.sha256, out / "data.csv")
    elif scheme in ("", "file"):
        source = Path(urlparse(cfg.path).path if scheme else cfg.path)
        if not source.is_file():
            raise PipelineError(f"datasets.{name}.path: CSV file {source} does not exist")
        if cfg.sha256 and (actual := storage.sha256_file(source)) != cfg.sha256:
            raise download.ChecksumError(
                f"checksum mismatch for {source}: expected sha256 {cfg.sha256}, got {actual}"
            )
        with storage.atomic_path(out / "data.csv") as tmp:
            shutil.copyfile(source, tmp)
    else:
        raise PipelineError(
            f"datasets.{name}.path: only a local path or an http(s) URL is allowed, got {cfg.path}"
        )
    storage.write_json(out / "meta.json", {"source": "csv", "task": cfg.task})


def read(name: str, cfg: CsvSource, raw_dir: Path, meta: dict) -> Raw:
    import pandas as pd

    frame = pd.read_csv(raw_dir / "data.csv")
    _require_columns(name, cfg, list(frame.columns))
    if cfg.time is not None:
        frame = frame.sort_values(cfg.time, kind="stable", key=_time_order)
    if cfg.task == "forecast":
        columns = [cfg.target, *(cfg.features or [])]
        numeric = frame[columns].apply(pd.to_numeric, errors="coerce")
        _require_numeric(name, numeric, columns, "a forecast's features must be numeric")
        return Raw("forecast", "sequence", numeric.to_numpy(np.float32), columns=tuple(columns))
    left_out = (cfg.target, cfg.time, *cfg.drop)
    chosen = cfg.features if cfg.features is not None else [c for c in frame.columns if c not in left_out]
    numeric_columns, categorical = _split_columns(name, frame[chosen])
    numeric = frame[numeric_columns].apply(pd.to_numeric, errors="coerce")
    _require_numeric(name, numeric, numeric_columns, "clean the CSV or list those columns in `drop`")
    x = numeric.to_numpy(np.float32).reshape(len(frame), len(numeric_columns))
    fields = {"columns": tuple(numeric_columns), "categorical": categorical or None}
    if cfg.task == "classification":
        labels = frame[cfg.target].astype(str).to_numpy()
        names, y = np.unique(labels, return_inverse=True)
        return Raw("classification", "tabular", x, y.astype(np.int64), tuple(str(n) for n in names), **fields)
    target = pd.to_numeric(frame[cfg.target], errors="coerce")
    _require_numeric(name, target.to_frame(), [cfg.target], "clean the CSV")
    return Raw("regression", "tabular", x, target.to_numpy(np.float32), **fields)


def _require_columns(name: str, cfg: CsvSource, present: list[str]) -> None:
    named = [("target", [cfg.target]), ("time", [cfg.time] if cfg.time else []), ("drop", cfg.drop)]
    for key, columns in [*named, ("features", cfg.features or [])]:
        for column in columns:
            if column not in present:
                raise PipelineError(
                    f"datasets.{name}.{key}: column {column!r} is not in the CSV; "
                    f"columns: {', '.join(present)}"
                )


def _split_columns(name: str, frame) -> tuple[list[str], dict[str, np.ndarray]]:
    """(numeric columns, {string column: its values}). A column none of whose values is a number is a
    category; a date column stops with a hint, since one-hot dates would be noise."""
    import pandas as pd

    numeric, categorical = [], {}
    for column in frame.columns:
        values = frame[column]
        if (
            values.empty
            or values.dtype.kind in "biuf"
            or pd.to_numeric(values, errors="coerce").notna().any()
        ):
            numeric.append(column)  # numbers, perhaps with stray text: _require_numeric names it
            continue
        if values.isna().any():
            raise PipelineError(
                f"dataset {name!r}: column {column!r} has empty values; fill them or list it in `drop`"
            )
        if _is_dates(values):
            raise PipelineError(
                f"dataset {name!r}: column {column!r} holds dates; name it as `time` (to order rows) "
                "or list it in `drop`"
            )
        categorical[column] = values.astype(str).to_numpy()
    return numeric, categorical


def _as_dates(values):
    """`values` parsed as dates (NaT where a value is not one)."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": that is the answer, not a problem
        return pd.to_datetime(values, errors="coerce", format="mixed")


def _is_dates(values) -> bool:
    return bool(_as_dates(values).notna().all())


def _time_order(values):
    """Sort key of the `time` column: numbers as numbers, dates as dates (1/10/2021 after 1/2/2021)."""
    if values.dtype.kind in "biufM" or not _is_dates(values):
        return values
    return _as_dates(values)


def _require_numeric(name: str, frame, columns: list[str], fix: str) -> None:
    bad = [c for c in columns if frame[c].isna().any()]
    if bad:
        raise PipelineError(
            f"dataset {name!r}: column(s) {', '.join(map(str, bad))} hold empty or non-numeric values; {fix}"
        )
