"""The `preprocess` half: raw files -> seeded train / val / test splits, scaled on train only.

Classification splits are stratified; a table with a `time` column is split chronologically (test
is the newest data: the `test_size` share of the rows, or `split.test_window`, a number of rows or a
span such as "365D"; val the rows just before it); time series are split chronologically into
one-step-ahead windows (of the target and any feature columns); a table's string columns are
one-hot or ordinal encoded; text becomes token ids (pipeline.datasets.text_splits). Scaling
statistics, categories and vocabularies come from the training split alone (no leakage into val /
test) and are recorded in the schema.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from pipeline.config import DatasetConfig
from pipeline.core.errors import PipelineError
from pipeline.datasets import categorical, chronology, text_splits
from pipeline.datasets.processed import ProcessedData, Schema, Split
from pipeline.datasets.raw import Raw
from pipeline.datasets.sources import read_raw

MIN_PER_CLASS = 3  # one sample each for train, val and test


def _check_classes(name: str, y: np.ndarray, class_names) -> None:
    if len(y) == 0:
        raise PipelineError(f"dataset {name!r} is empty")
    counts = np.bincount(y, minlength=len(class_names))
    if np.count_nonzero(counts) < 2:
        raise PipelineError(
            f"dataset {name!r} has a single class ({class_names[int(np.argmax(counts))]}): "
            "classification needs at least two"
        )
    rare = [class_names[i] for i, c in enumerate(counts) if 0 < c < MIN_PER_CLASS]
    if rare:
        raise PipelineError(
            f"dataset {name!r}: class(es) {', '.join(rare)} have fewer than {MIN_PER_CLASS} samples, "
            "too few to split into train / val / test; add data or drop them"
        )


def _stratified_split(x, y, size: float, seed: int, stratify: bool):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=size, random_state=seed, stratify=y if stratify else None)


def _fit_scaler(train_x: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale) from the training split: pixel range for images, per-feature z-score otherwise."""
    if layout == "image":
        return np.float32(0.0), np.float32(max(float(train_x.max()), 1e-8))
    axes = tuple(range(train_x.ndim - 1))
    std = train_x.std(axis=axes)
    return train_x.mean(axis=axes).astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def _chronological(name: str, x: np.ndarray, y: np.ndarray, times: np.ndarray, split_cfg, what: str):
    """Train, val, test in time order: test the newest rows, val the `val_size` share before it."""
    n_test = chronology.test_rows(name, times, split_cfg)
    n_val = int(round(len(x) * split_cfg.val_size))
    n_train = len(x) - n_val - n_test
    if min(n_train, n_val, n_test) < 2:
        raise PipelineError(
            f"dataset {name!r}: {len(x)} {what} give {max(n_train, 0)} / {n_val} / {n_test}, too few for a "
            "chronological train / val / test split (at least 2 each); add data or change `split`"
        )
    cuts = (n_train, n_train + n_val)
    return (
        (x[: cuts[0]], y[: cuts[0]]),
        (x[cuts[0] : cuts[1]], y[cuts[0] : cuts[1]]),
        (x[cuts[1] :], y[cuts[1] :]),
    )


def _split_tabular(name: str, raw: Raw, split_cfg, seed: int):
    classify = raw.task == "classification"
    if classify:
        _check_classes(name, raw.y, raw.class_names)
    elif len(raw.x) < 10:
        raise PipelineError(f"dataset {name!r} has {len(raw.x)} rows; at least 10 are needed to split it")
    if raw.times is not None and raw.test is None:
        return _chronological(name, raw.x, raw.y, raw.times, split_cfg, "rows")
    if raw.test is not None:
        x_rest, y_rest = raw.x, raw.y
        x_test, y_test = raw.test
        val_share = split_cfg.val_size
    else:
        x_rest, x_test, y_rest, y_test = _stratified_split(raw.x, raw.y, split_cfg.test_size, seed, classify)
        val_share = split_cfg.val_size / (1 - split_cfg.test_size)
    x_train, x_val, y_train, y_val = _stratified_split(x_rest, y_rest, val_share, seed, classify)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def _windows(series: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """One-step-ahead windows: x[i] = series[i:i+window], y[i] = series[i+window, 0]."""
    n = len(series) - window
    x = np.stack([series[i : i + window] for i in range(n)]).astype(np.float32)
    return x, series[window:, 0].astype(np.float32)


def _split_series(name: str, raw: Raw, split_cfg, window: int):
    x, y = _windows(raw.x, window) if len(raw.x) > window else (raw.x[:0], raw.x[:0, 0])
    # each window is as new as the step it predicts; a bundled series has no times, only an order
    times = raw.times[window:] if raw.times is not None else np.arange(len(x))
    what = f"windows (of {len(raw.x)} time steps, window {window})"
    return _chronological(name, x, y, times, split_cfg, what)


def _columns(cfg: DatasetConfig, inputs: list[str], categories: dict[str, list[str]] | None) -> dict:
    """What the models see: the target, the time column, the name of each input feature (a window's
    features for a forecast, the target's history first) and the categories of encoded columns."""
    described = {"target": cfg.target, "time": cfg.time, "inputs": inputs}
    if categories:
        described["categorical"] = {"encoding": cfg.categorical, "categories": categories}
    return described


def preprocess(name: str, cfg: DatasetConfig, raw_dir: Path, seed: int) -> ProcessedData:
    """Split, scale and shape data set `name` deterministically for `seed`."""
    raw = read_raw(name, cfg, raw_dir)
    if raw.layout == "text":
        if raw.task == "language_model":
            return text_splits.language_model(name, cfg, raw, seed)
        return text_splits.classification(name, cfg, raw, _split_tabular(name, raw, cfg.split, seed), seed)
    inputs, categories = list(raw.columns or ()), None
    if raw.task == "forecast":
        splits = _split_series(name, raw, cfg.split, cfg.window)
    elif raw.categorical:
        rows = _split_tabular(name, replace(raw, x=np.arange(len(raw.x))), cfg.split, seed)
        encoded, names, categories = categorical.encode(
            raw.categorical, [r for r, _ in rows], cfg.categorical
        )
        splits = [(np.hstack([raw.x[r], e]), y) for (r, y), e in zip(rows, encoded, strict=True)]
        inputs += names
    else:
        splits = _split_tabular(name, raw, cfg.split, seed)
    (x_train, y_train), *_ = splits
    if x_train.shape[-1] == 0:
        raise PipelineError(f"dataset {name!r} has no feature columns left: check `features` / `drop`")
    shift, scale = _fit_scaler(x_train, raw.layout)
    target_scale = None
    if raw.task == "forecast":  # targets are the series itself: one scale for inputs and targets
        target_scale = (float(shift[0]), float(scale[0]))
    elif raw.task == "regression":
        target_scale = (float(y_train.mean()), float(y_train.std() or 1.0))
    out = []
    for x, y in splits:
        x = ((x - shift) / scale).astype(np.float32)
        if target_scale is not None:
            y = ((y - target_scale[0]) / target_scale[1]).astype(np.float32)
        out.append(Split(x=x, y=y))
    schema = Schema(
        dataset=name,
        task=raw.task,
        layout=raw.layout,
        input_shape=tuple(int(d) for d in out[0].x.shape[1:]),
        n_classes=len(raw.class_names) if raw.class_names else None,
        class_names=raw.class_names,
        target_scale=target_scale,
        extra={
            "scaler": {"shift": np.asarray(shift).tolist(), "scale": np.asarray(scale).tolist()},
            "seed": seed,
            "source": cfg.source,
            **({"columns": _columns(cfg, inputs, categories)} if raw.columns is not None else {}),
        },
    )
    return ProcessedData(schema, *out)
