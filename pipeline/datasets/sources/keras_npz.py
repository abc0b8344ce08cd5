"""IMDB and Reuters in Keras' canonical `.npz` layout, decoded back into documents.

Raw layout: `data.npz` (sha256-verified), `word_index.json` (md5-verified: upstream publishes nothing
stronger) and `meta.json`. The documents come out in the order `keras.datasets.<name>.load_data()`
gives them, split as it splits them.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np

from pipeline.config import KerasNpzSource
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download
from pipeline.datasets.raw import Raw

SEED = 113  # load_data's default shuffling seed
REUTERS_TEST_SPLIT = 0.2  # load_data's default: the last 20% after shuffling is the test split
KEYS = {"imdb": ("x_train", "y_train", "x_test", "y_test"), "reuters": ("x", "y")}
IMDB_CLASSES = ("negative", "positive")
REUTERS_TOPICS = (  # keras.datasets.reuters.get_label_names()
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi",
    "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal",
    "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc",
    "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip


def fetch(name: str, cfg: KerasNpzSource, out: Path) -> None:
    _require_sha256(name, cfg)
    mirror, hint = download.mirror_of(name, cfg)
    download.fetch_remote(cfg.files["data"], out / "data.npz", mirror=mirror, hint=hint)
    download.fetch_remote(cfg.files["word_index"], out / "word_index.json", mirror=mirror, hint=hint)
    meta = {"source": "keras_npz", "task": "classification", "layout": "text", "name": cfg.name}
    storage.write_json(out / "meta.json", meta)


def read(name: str, cfg: KerasNpzSource, raw_dir: Path, meta: dict) -> Raw:
    arrays = _load_verified(name, cfg, raw_dir / "data.npz")
    words = _inverted_word_index(name, raw_dir / "word_index.json")
    (x_train, y_train), (x_test, y_test) = _keras_splits(cfg.name, arrays)
    class_names = tuple(cfg.class_names) if cfg.class_names else _default_classes(cfg.name)
    labels = np.concatenate([y_train, y_test])
    if np.any(labels < 0) or np.any(labels >= len(class_names)):
        raise PipelineError(
            f"dataset {name!r}: labels run from {labels.min()} to {labels.max()} but "
            f"{len(class_names)} class names are given; fix datasets.{name}.class_names"
        )
    return Raw(
        task="classification",
        layout="text",
        x=_decode(name, x_train, words),
        y=y_train,
        class_names=class_names,
        test=(_decode(name, x_test, words), y_test),
    )


def _load_verified(name: str, cfg: KerasNpzSource, path: Path) -> dict[str, np.ndarray]:
    """The arrays of `path`, unpickled only once its bytes match the pinned sha256."""
    _require_sha256(name, cfg)
    fix = f"run `dvc repro -f download@{name}`"
    try:
        payload = path.read_bytes()
    except OSError as err:
        raise PipelineError(f"{path} cannot be read ({err}): {fix}") from err
    expected, actual = cfg.files["data"].sha256, storage.sha256_bytes(payload)
    if actual != expected:
        raise download.ChecksumError(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}; "
            f"it was not loaded. {fix} to fetch it again"
        )
    # The ragged word-id sequences are object arrays, stored as pickles, and unpickling runs code.
    # That is safe only because these exact bytes (held in memory, so the file cannot change in
    # between) were just checked against the pinned digest of Keras' published file.
    try:
        with np.load(io.BytesIO(payload), allow_pickle=True) as npz:
            missing = [key for key in KEYS[cfg.name] if key not in npz.files]
            if missing:
                raise PipelineError(
                    f"{path} lacks the array(s) {', '.join(missing)} of Keras' {cfg.name} layout "
                    f"(it holds {', '.join(npz.files) or 'nothing'}); check datasets.{name}.files"
                )
            return {key: npz[key] for key in KEYS[cfg.name]}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
        raise PipelineError(f"{path} is not a readable .npz file ({err}): {fix}") from err


def _require_sha256(name: str, cfg: KerasNpzSource) -> None:
    if cfg.files["data"].sha256 is None:
        raise PipelineError(
            f"datasets.{name}.files.data needs a sha256 (not md5): the file is unpickled, "
            "which only a pinned sha256 makes safe"
        )


def _inverted_word_index(name: str, path: Path) -> dict[int, str]:
    """Word-index rank -> word, from Keras' `{word: rank}` JSON."""
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        return {int(rank): word for word, rank in index.items()}
    except (OSError, ValueError, AttributeError, TypeError) as err:
        raise PipelineError(
            f"{path} is not a readable word index ({err}): run `dvc repro -f download@{name}`"
        ) from err


def _keras_splits(which: str, arrays: dict[str, np.ndarray]):
    """((x_train, y_train), (x_test, y_test)) ordered and split exactly as Keras' load_data does."""
    rng = np.random.RandomState(SEED)
    if which == "imdb":  # each shipped split shuffled in turn with the same generator
        splits = []
        for x, y in ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])):
            order = np.arange(len(x))
            rng.shuffle(order)
            splits.append((x[order], y[order].astype(np.int64)))
        return tuple(splits)
    order = np.arange(len(arrays["x"]))
    rng.shuffle(order)
    x, y = arrays["x"][order], arrays["y"][order].astype(np.int64)
    cut = int(len(x) * (1 - REUTERS_TEST_SPLIT))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def _decode(name: str, sequences: np.ndarray, words: dict[int, str]) -> np.ndarray:
    """Documents as a unicode array, words joined by single spaces.

    The file holds plain word-index ranks: Keras' load_data is what prepends the start char (1) and
    adds index_from (3) to make room for 0 (padding), 1 (start) and 2 (OOV), so none of those
    markers is in the file and every id decodes through the word index as it is.
    """
    try:
        return np.array([" ".join(words[int(i)] for i in sequence) for sequence in sequences], dtype=object)
    except KeyError as err:
        raise PipelineError(
            f"dataset {name!r}: word id {err.args[0]} of data.npz is not in word_index.json, so the two "
            f"files do not belong together; check datasets.{name}.files"
        ) from err


def _default_classes(which: str) -> tuple[str, ...]:
    return IMDB_CLASSES if which == "imdb" else REUTERS_TOPICS
