"""Source kinds: each module puts a data set's raw files into `data/raw/<name>/` (`fetch`, for the
download stage) and reads them back into a `Raw` (`read`, for preprocess).

Every kind writes `meta.json` beside its files; table kinds also `snapshot.json`. Live kinds (http,
sql, folder: data that keeps arriving) also have `check(name, cfg, timeout)`, a small JSON-able token
that changes when the data does. Kind modules import their heavy libraries inside functions, so
resolving a kind stays cheap.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType

from pipeline.config import DatasetConfig
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets.raw import Raw, read_meta

log = logging.getLogger(__name__)

MODULES = {  # `source:` in params.yaml -> module of this package
    "sklearn": "bundled",
    "statsmodels": "bundled",
    "idx": "idx_files",
    "csv": "csv_file",
    "http": "http_table",
    "sql": "sql_table",
    "folder": "folder_table",
    "text": "text",
    "keras_npz": "keras_npz",
    "cifar": "cifar",
    "imagefolder": "imagefolder",
}


class SourceUnreachable(PipelineError):
    """A live source did not answer its check (network, server or database down, folder missing)."""


def kind(cfg: DatasetConfig) -> ModuleType:
    """The module that fetches and reads data sets of `cfg.source`."""
    return importlib.import_module(f"{__name__}.{MODULES[cfg.source]}")


def fetch_raw(name: str, cfg: DatasetConfig, out_dir: Path) -> None:
    """Fill `out_dir` with the raw files of data set `name`; all or nothing."""
    with storage.atomic_dir(out_dir) as staging:
        kind(cfg).fetch(name, cfg, staging)
    log.info("raw data for %s in %s", name, out_dir)


def read_raw(name: str, cfg: DatasetConfig, raw_dir: Path) -> Raw:
    """Load what `fetch_raw` wrote for data set `name`."""
    raw_dir = Path(raw_dir)
    return kind(cfg).read(name, cfg, raw_dir, read_meta(raw_dir))
