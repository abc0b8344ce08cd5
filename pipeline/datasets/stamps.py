"""What the `sources` stage writes per data set: `sources/<dataset>`, which `download@<dataset>` depends on.

A data set read from local files (a `csv` path, a `text` path, an `imagefolder` without `archive`) gets a
symbolic link to them: DVC hashes the files through it (its state cache makes an unchanged file cost a
`stat`), so `dvc status` names `download@<dataset>` after an edit and `dvc repro` re-runs that chain only.
Links into the project are relative, so a moved or cloned project keeps them. A live source (http,
sql, folder) gets a check token as JSON: that of its snapshot in data/raw (so `dvc repro` reproduces
it, even without the source), and a fresh one from the source only when PIPELINE_REFRESH=1 asks for
new data or there is no snapshot of it yet (as `dvc update` refreshes an import); byte-identical while
the source is unchanged, so nothing downstream runs. The checks run concurrently. Every other data
set gets a small JSON stamp, byte-identical until its source kind changes (bundled sets, and remote
files whose pinned digests params.yaml already tracks).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.config import LIVE_SOURCES, DatasetConfig
from pipeline.core import paths, storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import snapshot, sources

log = logging.getLogger(__name__)

REFRESH_ENV = "PIPELINE_REFRESH"  # set: live sources are asked for new data (make refresh, make retrain)
MAX_CONCURRENT_CHECKS = 8


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


def stamp_text(cfg: DatasetConfig, token: dict | None = None) -> str:
    """The JSON written to sources/<dataset>: the kind, and a live source's check token."""
    stamp = {"source": cfg.source} if token is None else {"source": cfg.source, "check": token}
    return json.dumps(stamp, sort_keys=True) + "\n"


def refresh_requested() -> bool:
    return os.environ.get(REFRESH_ENV, "").strip().lower() in ("1", "true", "yes")


def check_token(name: str, cfg: DatasetConfig, timeout: float) -> dict:
    """The check token of live data set `name`.

    Its snapshot's (data/raw/<name>/snapshot.json) while that snapshot is of this very source and no
    refresh is asked for; else asked of the source, falling back on the snapshot's with a warning when
    the source cannot be reached.
    """
    kind = sources.kind(cfg)
    path = paths.snapshot_file(name)
    recorded = snapshot.read(path.parent)
    if recorded is not None and recorded["source"] != kind.location(name, cfg):
        recorded = None  # a snapshot of another URL, query or folder: this source is new
    if recorded is not None and not refresh_requested():
        return recorded["check"]
    try:
        return kind.check(name, cfg, timeout)
    except sources.SourceUnreachable as err:
        if recorded is None:
            raise PipelineError(
                f"{err}, and there is no snapshot of it ({path}): make the source reachable, "
                "or `dvc pull` its snapshot"
            ) from None
        log.warning("%s: keeping the snapshot in %s", err, path)
        return recorded["check"]


def write(out_dir: Path, datasets: Mapping[str, DatasetConfig], timeout: float = 10.0) -> None:
    """One entry per data set in `out_dir`: a live source's check token, a link to local files, else a
    JSON stamp. Live sources are checked concurrently, each giving up after `timeout` seconds."""
    live = {name: cfg for name, cfg in datasets.items() if cfg.source in LIVE_SOURCES}
    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT_CHECKS, len(live) or 1)) as pool:
        checked = pool.map(lambda item: check_token(*item, timeout), live.items())
        tokens = dict(zip(live, checked, strict=True))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, cfg in datasets.items():
        entry = out_dir / name
        entry.unlink(missing_ok=True)
        path = local_path(cfg)
        if name in tokens:
            storage.write_text(entry, stamp_text(cfg, tokens[name]))
        elif path is None:
            storage.write_text(entry, stamp_text(cfg))
        elif path.exists():
            entry.symlink_to(_link_target(path, out_dir))
        else:
            package = getattr(cfg, "package", None)
            install = f"install it with `sudo apt-get install {package}`, or " if package else ""
            raise PipelineError(
                f"datasets.{name}.path: {path} does not exist; {install}point it at your data"
            )
