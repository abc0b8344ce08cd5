"""What the `sources` stage writes per data set: `sources/<dataset>`, which `download@<dataset>` depends on.

A data set read from local files (a `csv` path, a `text` path, an `imagefolder` without `archive`) gets a
symbolic link to them: DVC hashes the files through it (its state cache makes an unchanged file cost a
`stat`), so `dvc status` names `download@<dataset>` after an edit and `dvc repro` re-runs that chain only.
Links into the project are relative, so a moved or cloned project keeps them. Every other data set gets
a small JSON stamp, byte-identical until its source kind changes (bundled sets, and remote files whose
pinned digests params.yaml already tracks).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.config import DatasetConfig
from pipeline.core import storage
from pipeline.core.errors import PipelineError


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


def _link_target(path: Path, out_dir: Path) -> str:
    """`path` as seen from `out_dir`: relative inside the project (the working directory), else absolute."""
    target = os.path.abspath(path)
    inside = os.path.commonpath([target, os.getcwd()]) == os.getcwd()
    return os.path.relpath(target, os.path.abspath(out_dir)) if inside else target


def write(out_dir: Path, datasets: Mapping[str, DatasetConfig]) -> None:
    """One entry per data set in `out_dir`: a link to its local files, else a JSON stamp."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, cfg in datasets.items():
        entry = out_dir / name
        entry.unlink(missing_ok=True)
        path = local_path(cfg)
        if path is None:
            storage.write_text(entry, json.dumps({"source": cfg.source}) + "\n")
        elif path.exists():
            entry.symlink_to(_link_target(path, out_dir))
        else:
            package = getattr(cfg, "package", None)
            install = f"install it with `sudo apt-get install {package}`, or " if package else ""
            raise PipelineError(
                f"datasets.{name}.path: {path} does not exist; {install}point it at your data"
            )
