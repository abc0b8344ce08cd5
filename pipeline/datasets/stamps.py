"""What the `sources` stage writes per data set: `sources/<dataset>`, which `download@<dataset>` depends on.

A data set read from local files (a `csv` path, a `text` path, an `imagefolder` without `archive`) gets a
symbolic link to them: DVC hashes the files through it (its state cache makes an unchanged file cost a
`stat`), so `dvc status` names `download@<dataset>` after an edit and `dvc repro` re-runs that chain only.
Every other data set gets a small JSON stamp that stays byte-identical until its source changes (bundled
sets, and remote files whose pinned digests params.yaml already tracks). Imports nothing heavy: the stage
runs on every `dvc repro`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.config import DatasetConfig


def local_path(cfg: DatasetConfig) -> Path | None:
    """The local file or folder data set `cfg` reads, or None when it reads none."""
    if cfg.source == "csv":
        parsed = urlparse(cfg.path)
        if parsed.scheme == "file":
            return Path(unquote(parsed.path))
        return Path(cfg.path) if parsed.scheme == "" else None
    if cfg.source == "text" or (cfg.source == "imagefolder" and cfg.archive is None):
        return Path(cfg.path)
    return None


def write(out_dir: Path, datasets: Mapping[str, DatasetConfig]) -> None:
    """One entry per data set in `out_dir`: a link to its local files, else a JSON stamp."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, cfg in datasets.items():
        entry = out_dir / name
        entry.unlink(missing_ok=True)
        path = local_path(cfg)
        if path is not None and path.exists():
            entry.symlink_to(os.path.abspath(path))
            continue
        stamp = {"source": cfg.source}
        if path is not None:  # download@ stops on it with a message naming the path
            stamp["missing"] = str(path)
        entry.write_text(json.dumps(stamp, sort_keys=True) + "\n")
