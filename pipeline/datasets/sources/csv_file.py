"""A user's CSV file (local path or http(s) URL with a pinned sha256) with a target column.

Raw layout: `data.csv` (the file as given) and `meta.json`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from pipeline import io
from pipeline.config import CsvSource
from pipeline.datasets import download
from pipeline.datasets.raw import Raw
from pipeline.errors import PipelineError


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
        if cfg.sha256 and io.sha256_file(source) != cfg.sha256:
            raise download.ChecksumError(
                f"checksum mismatch for {source}: expected sha256 {cfg.sha256}, got {io.sha256_file(source)}"
            )
        with io.atomic_path(out / "data.csv") as tmp:
            shutil.copyfile(source, tmp)
    else:
        raise PipelineError(
            f"datasets.{name}.path: only a local path or an http(s) URL is allowed, got {cfg.path}"
        )
    io.write_json(out / "meta.json", {"source": "csv", "task": cfg.task})


def read(name: str, cfg: CsvSource, raw_dir: Path, meta: dict) -> Raw:
    import pandas as pd

    frame = pd.read_csv(raw_dir / "data.csv")
    if cfg.target not in frame.columns:
        raise PipelineError(
            f"datasets.{name}.target: column {cfg.target!r} is not in the CSV; "
            f"columns: {', '.join(frame.columns)}"
        )
    if cfg.time is not None:
        if cfg.time not in frame.columns:
            raise PipelineError(f"datasets.{name}.time: column {cfg.time!r} is not in the CSV")
        frame = frame.sort_values(cfg.time, kind="stable")
    if cfg.task == "forecast":
        values = pd.to_numeric(frame[cfg.target], errors="coerce")
        _require_numeric(name, values.to_frame(), [cfg.target])
        return Raw(task="forecast", layout="sequence", x=values.to_numpy(np.float32)[:, np.newaxis])
    features = frame.drop(columns=[c for c in (cfg.target, cfg.time) if c is not None])
    numeric = features.apply(pd.to_numeric, errors="coerce")
    _require_numeric(name, numeric, list(features.columns))
    x = numeric.to_numpy(np.float32)
    if cfg.task == "classification":
        labels = frame[cfg.target].astype(str).to_numpy()
        names, y = np.unique(labels, return_inverse=True)
        return Raw("classification", "tabular", x, y.astype(np.int64), tuple(str(n) for n in names))
    target = pd.to_numeric(frame[cfg.target], errors="coerce")
    _require_numeric(name, target.to_frame(), [cfg.target])
    return Raw("regression", "tabular", x, target.to_numpy(np.float32))


def _require_numeric(name: str, frame, columns: list[str]) -> None:
    bad = [c for c in columns if frame[c].isna().any()]
    if bad:
        raise PipelineError(
            f"dataset {name!r}: column(s) {', '.join(map(str, bad))} hold empty or non-numeric values; "
            "clean the CSV or drop those columns"
        )
