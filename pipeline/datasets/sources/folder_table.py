"""A local folder that grows: the files matching `pattern` (csv or parquet), concatenated in
file-name order. Its check token is the sorted list of (name, size, mtime_ns) of those files.

Raw layout and reading: pipeline.datasets.sources.tables (data.csv when every file is a CSV, else
data.parquet).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config import FolderSource
from pipeline.core.errors import PipelineError
from pipeline.datasets import snapshot
from pipeline.datasets.sources import SourceUnreachable, tables

read = tables.read


def _files(cfg: FolderSource) -> list[Path]:
    folder = Path(cfg.path)
    files = (p for p in folder.glob(cfg.pattern) if p.is_file())
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _listing(cfg: FolderSource, files: list[Path]) -> dict:
    stats = ((f, f.stat()) for f in files)
    return {"files": [[f.relative_to(cfg.path).as_posix(), s.st_size, s.st_mtime_ns] for f, s in stats]}


def location(name: str, cfg: FolderSource) -> dict:
    """Where the data comes from, as snapshot.json records it."""
    return {"kind": "folder", "path": cfg.path, "pattern": cfg.pattern}


def check(name: str, cfg: FolderSource, timeout: float) -> dict:
    if not Path(cfg.path).is_dir():
        raise SourceUnreachable(f"dataset {name!r}: folder {cfg.path} does not exist")
    return _listing(cfg, _files(cfg))


def fetch(name: str, cfg: FolderSource, out: Path) -> None:
    import pandas as pd

    if not Path(cfg.path).is_dir():
        raise PipelineError(f"datasets.{name}.path: folder {cfg.path} does not exist")
    files = _files(cfg)
    if not files:
        raise PipelineError(f"datasets.{name}: no file in {cfg.path} matches pattern {cfg.pattern!r}")
    token = _listing(cfg, files)  # before reading: a file that changes meanwhile is seen by the next check
    frames = [tables.read_file(f) for f in files]
    for path, frame in zip(files[1:], frames[1:], strict=True):
        if list(frame.columns) != list(frames[0].columns):
            raise PipelineError(
                f"dataset {name!r}: {path} has columns {', '.join(map(str, frame.columns))}, but {files[0]} "
                f"has {', '.join(map(str, frames[0].columns))}; every partition needs the same columns"
            )
    table_format = "csv" if all(f.suffix == ".csv" for f in files) else "parquet"
    table = pd.concat(frames, ignore_index=True)
    tables.save_frame(table, out, table_format)
    snapshot.write(out, name, cfg, location(name, cfg), token, table)
