"""Preprocessing: seeded splits, no leakage, chronological series, clear errors for bad data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import processed, sources
from pipeline.datasets.preprocess import preprocess

DIGITS = config.SklearnSource(source="sklearn", name="digits")
SUNSPOTS = config.StatsmodelsSource(source="statsmodels", name="sunspots", window=9)


@pytest.fixture(scope="module")
def digits_raw(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("raw") / "digits"
    sources.fetch_raw("digits", DIGITS, raw)
    return raw


@pytest.fixture(scope="module")
def sunspots_raw(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("raw") / "sunspots"
    sources.fetch_raw("sunspots", SUNSPOTS, raw)
    return raw


def csv_raw(tmp_path: Path, text: str, **fields) -> tuple[config.CsvSource, Path]:
    path = tmp_path / "input.csv"
    path.write_text(text)
    cfg = config.CsvSource(source="csv", path=str(path), **fields)
    sources.fetch_raw("mine", cfg, tmp_path / "raw")
    return cfg, tmp_path / "raw"


def test_same_seed_same_split_other_seed_other_split(digits_raw):
    first, again = (preprocess("digits", DIGITS, digits_raw, seed=7) for _ in range(2))
    other = preprocess("digits", DIGITS, digits_raw, seed=8)
    for name in processed.SPLITS:
        np.testing.assert_array_equal(first.split(name).x, again.split(name).x)
        np.testing.assert_array_equal(first.split(name).y, again.split(name).y)
    assert not np.array_equal(first.train.y, other.train.y)


def test_digits_are_nhwc_images_scaled_by_the_training_split(digits_raw):
    data = preprocess("digits", DIGITS, digits_raw, seed=0)
    assert data.schema.layout == "image" and data.schema.input_shape == (8, 8, 1)
    assert data.train.x.max() == pytest.approx(1.0)
    assert sum(len(data.split(n).y) for n in processed.SPLITS) == 1797


def test_stratified_split_keeps_class_shares(digits_raw):
    data = preprocess("digits", DIGITS, digits_raw, seed=0)
    train_share = np.bincount(data.train.y) / len(data.train.y)
    test_share = np.bincount(data.test.y) / len(data.test.y)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)


def test_scaler_statistics_come_from_train_only(tmp_path):
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.4f},{b:.4f},{i % 2}" for i, (a, b) in enumerate(rng.normal(5, 3, (200, 2))))
    cfg, raw = csv_raw(tmp_path, "a,b,label\n" + rows, target="label")
    data = preprocess("mine", cfg, raw, seed=0)
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.train.x.std(axis=0), 1, atol=1e-5)
    assert np.abs(data.test.x.mean(axis=0)).max() > 1e-3  # test statistics were not used


def test_series_split_is_chronological(sunspots_raw):
    data = preprocess("sunspots", SUNSPOTS, sunspots_raw, seed=0)
    assert data.schema.task == "forecast" and data.train.x.shape[1:] == (9, 1)
    n_train, n_val = len(data.train.y), len(data.val.y)
    # each window's target is the next window's last input: order survives across splits
    series = np.concatenate([data.train.y, data.val.y, data.test.y])
    np.testing.assert_allclose(data.val.x[0, -1, 0], data.train.y[-1], rtol=1e-5)
    np.testing.assert_allclose(data.test.x[0, -1, 0], series[n_train + n_val - 1], rtol=1e-5)


def test_forecast_targets_unscale_to_original_units(sunspots_raw):
    data = preprocess("sunspots", SUNSPOTS, sunspots_raw, seed=0)
    values = storage.load_arrays(sunspots_raw / "data.npz")["x"][:, 0]
    np.testing.assert_allclose(
        data.schema.unscale_targets(data.test.y), values[-len(data.test.y) :], rtol=1e-4
    )


def test_processed_round_trip_verifies_hashes(digits_raw, tmp_path):
    data = preprocess("digits", DIGITS, digits_raw, seed=0)
    processed.save(tmp_path / "p", data)
    loaded = processed.load(tmp_path / "p")
    np.testing.assert_array_equal(loaded.test.x, data.test.x)
    storage.save_arrays(tmp_path / "p" / "val.npz", {"x": data.val.x * 2, "y": data.val.y})
    with pytest.raises(PipelineError, match="does not match schema.json"):
        processed.load(tmp_path / "p")


def test_csv_regression_with_time_column(tmp_path):
    rows = "\n".join(f"{2000 + i},{i * 0.5:.2f},{i * 2.0 + 1:.2f}" for i in range(40))
    cfg, raw = csv_raw(tmp_path, "year,x,price\n" + rows, target="price", task="regression", time="year")
    data = preprocess("mine", cfg, raw, seed=0)
    assert data.schema.task == "regression" and data.train.x.shape[1:] == (1,)


@pytest.mark.parametrize(
    ("text", "fields", "message"),
    [
        ("a,b\n1,2\n3,4\n", {"target": "label"}, "column 'label' is not in the table"),
        ("a,label\n1,x\n2,x\n3,x\n4,x\n", {"target": "label"}, "single class"),
        ("a,label\n", {"target": "label"}, "is empty"),
        ("a,label\nfoo,1\n2,0\n3,1\n4,0\n5,1\n6,0\n", {"target": "label"}, "non-numeric"),
        ("a,label\n1,x\n2,x\n3,x\n4,y\n", {"target": "label"}, "fewer than 3 samples"),
    ],
    ids=["missing-target", "single-class", "empty", "non-numeric", "rare-class"],
)
def test_bad_csv_data_gets_a_clear_error(tmp_path, text, fields, message):
    cfg, raw = csv_raw(tmp_path, text, **fields)
    with pytest.raises(PipelineError, match=message):
        preprocess("mine", cfg, raw, seed=0)


def test_missing_csv_file_is_named(tmp_path):
    cfg = config.CsvSource(source="csv", path=str(tmp_path / "nope.csv"), target="y")
    with pytest.raises(PipelineError, match="nope.csv does not exist"):
        sources.fetch_raw("mine", cfg, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_idx_data_keeps_its_own_test_split(idx_files, tmp_path):
    directory, files = idx_files
    cfg = config.IdxSource(source="idx", files=files, mirror=str(directory))
    sources.fetch_raw("tiny", cfg, tmp_path / "raw")
    data = preprocess("tiny", cfg, tmp_path / "raw", seed=0)
    assert len(data.test.y) == 20 and len(data.train.y) + len(data.val.y) == 60
    assert data.schema.input_shape == (6, 6, 1) and data.schema.n_classes == 3
