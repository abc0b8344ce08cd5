"""The processed-data contract between `preprocess` and every model stage.

`data/processed/<dataset>/` holds `train.npz`, `val.npz`, `test.npz` (arrays `x`, `y`) and
`schema.json`. Layouts: `image` is NHWC float32, `tabular` is (n, features) float32,
`sequence` is (n, steps, features) float32, `text` is (n, length) int32 token ids into the
schema's `vocabulary` (also written as `vocabulary.json`; id 0 is padding, 1 an unknown token).
Classification targets are int64 labels 0..n_classes-1; a `language_model` is classification
over the vocabulary (the next token of each window). Regression and forecast targets are float32,
standardised with the train split's `target_scale` (mean, std) so models train on unit scale
and evaluation reports errors in the original units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pipeline.core import storage
from pipeline.core.errors import PipelineError

SPLITS = ("train", "val", "test")
Layout = Literal["image", "tabular", "sequence", "text"]
Task = Literal["classification", "regression", "forecast", "language_model"]
VOCABULARY_FILE = "vocabulary.json"
SCHEMA_FILE = "schema.json"
ARTIFACT_DIR = "data"  # where a training run logs SCHEMA_FILE and VOCABULARY_FILE


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Schema:
    dataset: str
    task: Task
    layout: Layout
    input_shape: tuple[int, ...]
    n_classes: int | None = None
    class_names: tuple[str, ...] | None = None
    target_scale: tuple[float, float] | None = None  # (mean, std) of the train targets
    vocabulary: tuple[str, ...] | None = None  # text: token of each id
    tokens: Literal["word", "char"] | None = None  # text: what a token is (how to join them back)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_categorical(self) -> bool:
        """Targets are class ids (classification, or the next token of a language model)."""
        return self.task in ("classification", "language_model")

    def unscale_targets(self, y: np.ndarray) -> np.ndarray:
        """Standardised regression targets or predictions back in the data's own units."""
        if self.target_scale is None:
            return y
        mean, std = self.target_scale
        return y * std + mean


@dataclass(frozen=True)
class ProcessedData:
    schema: Schema
    train: Split
    val: Split
    test: Split

    def split(self, name: str) -> Split:
        return getattr(self, name)


def _split_summary(split: Split, schema: Schema) -> dict[str, Any]:
    summary = {
        "n_samples": int(len(split.x)),
        "x": {
            "shape": list(split.x.shape),
            "dtype": split.x.dtype.str,
            "sha256": storage.sha256_array(split.x),
        },
        "y": {
            "shape": list(split.y.shape),
            "dtype": split.y.dtype.str,
            "sha256": storage.sha256_array(split.y),
        },
    }
    if schema.task == "classification":  # a language model's thousands of "classes" are not summarised
        counts = np.bincount(split.y.astype(np.int64), minlength=schema.n_classes or 0)
        summary["class_counts"] = counts.tolist()
    return summary


def save(out_dir: Path | str, data: ProcessedData) -> None:
    """Write the three splits and schema.json (each file atomically)."""
    out_dir = Path(out_dir)
    schema = data.schema
    document = {
        "dataset": schema.dataset,
        "task": schema.task,
        "layout": schema.layout,
        "input_shape": list(schema.input_shape),
        "n_classes": schema.n_classes,
        "class_names": list(schema.class_names) if schema.class_names else None,
        "target_scale": list(schema.target_scale) if schema.target_scale else None,
        "tokens": schema.tokens,
        "vocabulary_size": len(schema.vocabulary) if schema.vocabulary else None,
        "extra": schema.extra,
        "splits": {},
    }
    if schema.vocabulary is not None:
        storage.write_json(out_dir / VOCABULARY_FILE, list(schema.vocabulary))
    for name in SPLITS:
        split = data.split(name)
        storage.save_arrays(out_dir / f"{name}.npz", {"x": split.x, "y": split.y})
        document["splits"][name] = _split_summary(split, schema)
    storage.write_json(out_dir / SCHEMA_FILE, document)


def load_schema(in_dir: Path | str) -> tuple[Schema, dict[str, Any]]:
    path = Path(in_dir) / SCHEMA_FILE
    if not path.exists():
        raise PipelineError(f"{path} not found: run `dvc repro preprocess@{Path(in_dir).name}` first")
    document = storage.read_json(path)
    schema = Schema(
        dataset=document["dataset"],
        task=document["task"],
        layout=document["layout"],
        input_shape=tuple(document["input_shape"]),
        n_classes=document["n_classes"],
        class_names=tuple(document["class_names"]) if document["class_names"] else None,
        target_scale=tuple(document["target_scale"]) if document["target_scale"] else None,
        vocabulary=_load_vocabulary(Path(in_dir), document),
        tokens=document.get("tokens"),
        extra=document.get("extra", {}),
    )
    return schema, document


def _load_vocabulary(in_dir: Path, document: dict[str, Any]) -> tuple[str, ...] | None:
    if not document.get("vocabulary_size"):
        return None
    vocabulary = tuple(storage.read_json(in_dir / VOCABULARY_FILE))
    if len(vocabulary) != document["vocabulary_size"]:
        raise PipelineError(
            f"{in_dir / VOCABULARY_FILE} has {len(vocabulary)} tokens, schema.json says "
            f"{document['vocabulary_size']}: re-create it with `dvc repro -f preprocess@{in_dir.name}`"
        )
    return vocabulary


def load(in_dir: Path | str, verify: bool = True) -> ProcessedData:
    """Load processed data (never unpickling); with `verify`, check every array against schema.json."""
    in_dir = Path(in_dir)
    schema, document = load_schema(in_dir)
    splits = {}
    for name in SPLITS:
        arrays = storage.load_arrays(in_dir / f"{name}.npz")
        split = Split(x=arrays["x"], y=arrays["y"])
        if verify:
            for key in ("x", "y"):
                expected = document["splits"][name][key]["sha256"]
                actual = storage.sha256_array(getattr(split, key))
                if actual != expected:
                    raise PipelineError(
                        f"{in_dir / name}.npz array {key!r} does not match schema.json "
                        f"(expected sha256 {expected}, got {actual}): "
                        f"re-create it with `dvc repro -f preprocess@{schema.dataset}`"
                    )
        splits[name] = split
    return ProcessedData(schema=schema, **splits)


def data_hash(in_dir: Path | str) -> str:
    """One content hash for a processed data set (the hashes of all its arrays)."""
    _, document = load_schema(in_dir)
    parts = [document["splits"][name][key]["sha256"] for name in SPLITS for key in ("x", "y")]
    return storage.sha256_bytes("".join(parts).encode())
