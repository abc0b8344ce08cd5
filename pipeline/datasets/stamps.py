"""What the `sources` stage writes per data set: `sources/<dataset>`, which `download@<dataset>` depends on.

A data set read from local files (a `csv` path, a `text` path, an `imagefolder` without `archive`) gets a
symbolic link to them: DVC hashes the files through it (its state cache makes an unchanged file cost a
`stat`), so `dvc status` names `download@<dataset>` after an edit and `dvc repro` re-runs that chain only.
Every other data set gets a small JSON stamp that stays byte-identical until its source changes (bundled
sets, and remote files whose pinned digests params.yaml already tracks).

The stage runs on every `dvc repro`, so this module reads the `datasets:` sections itself, unvalidated,
instead of through pipeline.config: building its pydantic models would cost ~0.2 s each time, and
`download@<dataset>` validates the same section anyway.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pipeline.errors import PipelineError


def read_datasets(params: Path) -> dict[str, Mapping[str, Any]]:
    """The `datasets:` sections of the params file (see the module docstring for why not config.load)."""
    import yaml

    try:
        document = yaml.load(Path(params).read_bytes(), Loader=yaml.CSafeLoader)
    except FileNotFoundError:
        raise PipelineError(f"params file {params} not found: run from the project's root") from None
    except yaml.YAMLError as err:
        raise PipelineError(f"{params} is not valid YAML: {err}") from None
    datasets = document.get("datasets") if isinstance(document, dict) else None
    if not isinstance(datasets, dict):
        raise PipelineError(f"{params} has no `datasets:` mapping")
    return {str(name): section if isinstance(section, dict) else {} for name, section in datasets.items()}


def local_path(section: Mapping[str, Any]) -> Path | None:
    """The local file or folder a data set's section says it reads, or None when it reads none."""
    source, path = section.get("source"), section.get("path")
    if not isinstance(path, str):
        return None
    if source == "csv":
        parsed = urlparse(path)
        if parsed.scheme == "file":
            return Path(unquote(parsed.path))
        return Path(path) if parsed.scheme == "" else None
    if source == "text" or (source == "imagefolder" and section.get("archive") is None):
        return Path(path)
    return None


def write(out_dir: Path, datasets: Mapping[str, Mapping[str, Any]]) -> None:
    """One entry per data set in `out_dir`: a link to its local files, else a JSON stamp."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, section in datasets.items():
        entry = out_dir / name
        entry.unlink(missing_ok=True)
        path = local_path(section)
        if path is not None and path.exists():
            entry.symlink_to(os.path.abspath(path))
            continue
        stamp = {"source": section.get("source")}
        if path is not None:  # download@ stops on it with a message naming the path
            stamp["missing"] = str(path)
        entry.write_text(json.dumps(stamp, sort_keys=True) + "\n")
