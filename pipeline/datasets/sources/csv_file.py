"""A user's CSV file (local path or http(s) URL with a pinned sha256) with a target column.

Raw layout and reading: pipeline.datasets.sources.tables (`data.csv` is the file as given).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

from pipeline.config import CsvSource
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri
from pipeline.datasets import download, snapshot
from pipeline.datasets.sources import tables

read = tables.read


def fetch(name: str, cfg: CsvSource, out: Path) -> None:
    scheme = urlparse(cfg.path).scheme
    data = out / tables.DATA_FILES["csv"]
    if scheme in ("http", "https"):
        if cfg.sha256 is None:
            raise PipelineError(f"datasets.{name}.sha256 is required for a CSV fetched from {cfg.path}")
        download.fetch(cfg.path, cfg.sha256, data)
    elif scheme in ("", "file"):
        source = Path(urlparse(cfg.path).path if scheme else cfg.path)
        if not source.is_file():
            raise PipelineError(f"datasets.{name}.path: CSV file {source} does not exist")
        if cfg.sha256 and (actual := storage.sha256_file(source)) != cfg.sha256:
            raise download.ChecksumError(
                f"checksum mismatch for {source}: expected sha256 {cfg.sha256}, got {actual}"
            )
        with storage.atomic_path(data) as tmp:
            shutil.copyfile(source, tmp)
    else:
        raise PipelineError(
            f"datasets.{name}.path: only a local path or an http(s) URL is allowed, got {cfg.path}"
        )
    check = {"sha256": storage.sha256_file(data)}
    snapshot.write(out, name, cfg, {"kind": "csv", "path": mask_uri(cfg.path)}, check)
