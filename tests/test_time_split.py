"""Chronological splits of tables with a `time` column: test is the newest data, val just before it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.core.errors import PipelineError
from pipeline.datasets import sources
from pipeline.datasets.preprocess import preprocess


def table(n: int, start: str = "2020-01-01") -> str:
    """`n` daily rows, shuffled; `age` is the row's day number, so the split can be read back."""
    days = np.arange(n)
    order = np.random.default_rng(0).permutation(n)
    dates = np.datetime64(start) + days
    rows = [f"{dates[i]},{i},{(i * 7) % 5 / 5:.1f},{'ab'[i % 2]}" for i in order]
    return "day,age,noise,label\n" + "\n".join(rows) + "\n"


def split_by_time(tmp_path: Path, text: str, **fields):
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "input.csv"
    path.write_text(text)
    cfg = config.CsvSource(source="csv", path=str(path), target="label", time="day", **fields)
    sources.fetch_raw("timed", cfg, tmp_path / "raw")
    return preprocess("timed", cfg, tmp_path / "raw", seed=0)


def ages(data, name: str) -> np.ndarray:
    """The `age` feature of a split, unscaled (the first input column)."""
    shift, scale = data.schema.extra["scaler"]["shift"][0], data.schema.extra["scaler"]["scale"][0]
    return np.rint(data.split(name).x[:, 0] * scale + shift).astype(int)


def test_test_split_is_the_newest_share_and_val_the_rows_before(tmp_path):
    data = split_by_time(tmp_path, table(100), split={"val_size": 0.15, "test_size": 0.2})
    assert list(ages(data, "test")) == list(range(80, 100))
    assert list(ages(data, "val")) == list(range(65, 80))
    assert list(ages(data, "train")) == list(range(65))


def test_test_window_as_a_number_of_rows(tmp_path):
    data = split_by_time(tmp_path, table(100), split={"val_size": 0.1, "test_size": 0.2, "test_window": 7})
    assert list(ages(data, "test")) == list(range(93, 100))
    assert list(ages(data, "val")) == list(range(83, 93))


def test_test_window_as_a_span_of_dates(tmp_path):
    data = split_by_time(
        tmp_path, table(800), split={"val_size": 0.1, "test_size": 0.2, "test_window": "365D"}
    )
    assert list(ages(data, "test")) == list(range(435, 800))  # the last 365 days


def test_the_split_does_not_depend_on_the_row_order(tmp_path):
    first = split_by_time(tmp_path / "a", table(60))
    header, *rows = table(60).splitlines()
    again = split_by_time(tmp_path / "b", "\n".join([header, *reversed(rows)]) + "\n")
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(first.split(name).x, again.split(name).x)


def test_a_span_needs_dates_and_a_split_needs_rows(tmp_path):
    numbers = "day,x,label\n" + "".join(f"{i},{i},{'ab'[i % 2]}\n" for i in range(40))
    with pytest.raises(PipelineError, match="test_window '30D' is a span of time.*number of rows"):
        split_by_time(tmp_path / "a", numbers, split={"test_window": "30D"})
    with pytest.raises(PipelineError, match="too few for a chronological"):
        split_by_time(tmp_path / "b", numbers, split={"test_window": 39})


def test_forecast_honours_test_window(tmp_path):
    series = "day,demand\n" + "".join(f"2020-01-{d:02d},{d}\n" for d in range(1, 31))
    path = tmp_path / "s.csv"
    path.write_text(series)
    cfg = config.CsvSource(
        source="csv",
        path=str(path),
        target="demand",
        time="day",
        task="forecast",
        window=3,
        split={"val_size": 0.2, "test_size": 0.2, "test_window": "5D"},
    )
    sources.fetch_raw("s", cfg, tmp_path / "raw")
    data = preprocess("s", cfg, tmp_path / "raw", seed=0)
    low, spread = data.schema.target_scale
    assert list(np.rint(data.test.y * spread + low).astype(int)) == [26, 27, 28, 29, 30]
