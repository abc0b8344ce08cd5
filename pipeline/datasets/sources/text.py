"""Labelled documents from a local path: a CSV, a folder per label, or fortune files.

Formats (`format:` in params): `csv` (a text and a label column), `folders` (one sub-directory per
label holding one document per file, or one `<label>.txt` file per label holding one document per
line), `fortune` (one file per label, entries separated by lines holding only `%`, as in Debian's
`fortunes` package). Raw layout: `data.npz` (`x` documents as a unicode array, `y` label ids) and
`meta.json` with the label names.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pipeline.config import TextSource
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets.raw import Raw

_OVERSTRIKE = re.compile(r".\x08")  # "_\bA": old terminals' underline / bold
_FORTUNE_SEPARATOR = re.compile(r"^%$", re.MULTILINE)


def fetch(name: str, cfg: TextSource, out: Path) -> None:
    documents = _read_documents(name, cfg)
    labels = sorted(documents)
    x = [doc for label in labels for doc in documents[label]]
    y = [i for i, label in enumerate(labels) for _ in documents[label]]
    storage.save_arrays(out / "data.npz", {"x": np.array(x, dtype=str), "y": np.array(y, dtype=np.int64)})
    storage.write_json(
        out / "meta.json",
        {
            "source": "text",
            "task": cfg.task,
            "layout": "text",
            "class_names": labels,
            "documents_per_class": {label: len(documents[label]) for label in labels},
        },
    )


def read(name: str, cfg: TextSource, raw_dir: Path, meta: dict) -> Raw:
    arrays = storage.load_arrays(raw_dir / "data.npz")
    return Raw(meta["task"], "text", arrays["x"], arrays["y"], tuple(meta["class_names"]))


def _read_documents(name: str, cfg: TextSource) -> dict[str, list[str]]:
    path = Path(cfg.path)
    if not path.exists():
        install = f"install it with `sudo apt-get install {cfg.package}`, or " if cfg.package else ""
        raise PipelineError(f"datasets.{name}.path: {path} does not exist; {install}point it at your text")
    readers = {"csv": _from_csv, "folders": _from_folders, "fortune": _from_fortunes}
    documents = readers[cfg.format](path, cfg)
    if cfg.categories is not None:
        unknown = sorted(set(cfg.categories) - set(documents))
        if unknown:
            raise PipelineError(
                f"datasets.{name}.categories: {', '.join(unknown)} not found in {path}; "
                f"available: {', '.join(sorted(documents))}"
            )
        documents = {label: documents[label] for label in cfg.categories}
    documents = {label: [d for d in docs if d.strip()] for label, docs in documents.items()}
    empty = sorted(label for label, docs in documents.items() if not docs)
    if empty or not documents:
        raise PipelineError(f"dataset {name!r}: no documents for {', '.join(empty) or 'any label'} in {path}")
    return documents


def _read_text(path: Path) -> str:
    return _OVERSTRIKE.sub("", path.read_text(encoding="utf-8", errors="replace"))


def _from_fortunes(path: Path, cfg: TextSource) -> dict[str, list[str]]:
    """Files without an extension (fortune's `.dat` indexes and `.u8` links are skipped)."""
    files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.suffix]
    return {p.name: [e.strip() for e in _FORTUNE_SEPARATOR.split(_read_text(p))] for p in files}


def _from_folders(path: Path, cfg: TextSource) -> dict[str, list[str]]:
    documents: dict[str, list[str]] = {}
    for entry in sorted(path.iterdir()):
        if entry.is_dir():
            documents[entry.name] = [_read_text(f) for f in sorted(entry.iterdir()) if f.is_file()]
        elif entry.suffix == ".txt":
            documents[entry.stem] = _read_text(entry).splitlines()
    return documents


def _from_csv(path: Path, cfg: TextSource) -> dict[str, list[str]]:
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in (cfg.text_column, cfg.label_column) if c not in frame.columns]
    if missing:
        raise PipelineError(
            f"{path}: no column(s) {', '.join(missing)}; columns: {', '.join(frame.columns)} "
            "(set text_column / label_column)"
        )
    return {
        str(label): group[cfg.text_column].tolist()
        for label, group in frame.groupby(cfg.label_column, sort=True)
    }
