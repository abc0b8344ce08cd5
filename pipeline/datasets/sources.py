"""The `download` half of each source kind: put a data set's raw files into `data/raw/<name>/`.

Raw layout: `idx` keeps the four verified IDX files; every other kind writes `data.npz`
(arrays `x`, `y`, optionally `time`) or, for CSV, `data.csv`, plus `meta.json` saying
what the arrays are. `preprocess` reads only these files.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from pipeline import io
from pipeline.config import CsvSource, DatasetConfig, IdxSource, SklearnSource, StatsmodelsSource
from pipeline.datasets import download
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

IDX_ROLES = ("train_images", "train_labels", "test_images", "test_labels")
_STATSMODELS_COLUMNS = {"sunspots": ("SUNACTIVITY", "YEAR"), "co2": ("co2", None)}


def mirror_for(name: str, cfg: IdxSource) -> str | None:
    """The mirror to try first: PIPELINE_MIRROR_<NAME> if set, else the params' `mirror`."""
    return os.environ.get(mirror_env_var(name)) or cfg.mirror


def mirror_env_var(name: str) -> str:
    return f"PIPELINE_MIRROR_{name.upper()}"


def _mirror_hint(name: str, cfg: IdxSource) -> str:
    install = (
        f"install it with `sudo apt-get install {cfg.mirror_package}`, or " if cfg.mirror_package else ""
    )
    return (
        f"To get data set {name!r} offline, {install}point datasets.{name}.mirror "
        f"(or the environment variable {mirror_env_var(name)}) at a directory, file:// or http(s):// "
        "base holding its files."
    )


def _fetch_idx(name: str, cfg: IdxSource, out: Path) -> None:
    mirror = mirror_for(name, cfg)
    hint = _mirror_hint(name, cfg)
    download.check_mirror(mirror, hint)
    for role in IDX_ROLES:
        spec = cfg.files[role]
        download.fetch(spec.url, spec.sha256, out / f"{role}.idx", mirror=mirror, hint=hint)
    io.write_json(out / "meta.json", {"source": "idx", "task": "classification", "layout": "image"})


def _fetch_sklearn(name: str, cfg: SklearnSource, out: Path) -> None:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{cfg.name}")()
    is_image = cfg.name == "digits"
    x = bunch.images[..., np.newaxis] if is_image else bunch.data
    io.save_arrays(out / "data.npz", {"x": x.astype(np.float32), "y": bunch.target.astype(np.int64)})
    io.write_json(
        out / "meta.json",
        {
            "source": "sklearn",
            "task": "classification",
            "layout": "image" if is_image else "tabular",
            "class_names": [str(c) for c in bunch.target_names],
            "feature_names": None if is_image else [str(f) for f in bunch.feature_names],
        },
    )


def _fetch_statsmodels(name: str, cfg: StatsmodelsSource, out: Path) -> None:
    import statsmodels.api as sm

    frame = getattr(sm.datasets, cfg.name).load_pandas().data
    value_column, time_column = _STATSMODELS_COLUMNS[cfg.name]
    frame = frame.dropna(subset=[value_column])
    time = frame[time_column].to_numpy() if time_column else frame.index.to_numpy().astype("datetime64[D]")
    io.save_arrays(
        out / "data.npz",
        {"x": frame[value_column].to_numpy(np.float32)[:, np.newaxis], "time": time.astype(str)},
    )
    io.write_json(out / "meta.json", {"source": "statsmodels", "task": "forecast", "layout": "sequence"})


def _fetch_csv(name: str, cfg: CsvSource, out: Path) -> None:
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


_FETCHERS = {
    "idx": _fetch_idx,
    "sklearn": _fetch_sklearn,
    "statsmodels": _fetch_statsmodels,
    "csv": _fetch_csv,
}


def fetch_raw(name: str, cfg: DatasetConfig, out_dir: Path) -> None:
    """Fill `out_dir` with the raw files of data set `name`; all or nothing."""
    with io.atomic_dir(out_dir) as staging:
        _FETCHERS[cfg.source](name, cfg, staging)
    log.info("raw data for %s in %s", name, out_dir)
