"""Drift scores (PSI, KS, categories), the report's status and what a training run logs of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import CsvSource, Validate
from pipeline.datasets import drift

RNG = np.random.default_rng(0)


def numbers(shift: float = 0.0, n: int = 2000) -> pd.Series:
    return pd.Series(RNG.normal(shift, 1.0, n))


@pytest.mark.parametrize(("method", "threshold"), [("psi", 0.2), ("ks", 0.1)])
def test_a_shifted_feature_scores_above_the_threshold_and_the_same_distribution_below(method, threshold):
    same = drift.score(numbers(), numbers(), method=method, bins=10, categorical=False)
    shifted = drift.score(numbers(), numbers(shift=1.0), method=method, bins=10, categorical=False)
    assert same < threshold / 2 < threshold < shifted


@pytest.mark.parametrize("method", ["psi", "ks"])
def test_categories_score_by_their_shares(method):
    reference = pd.Series(["red"] * 500 + ["blue"] * 500)
    assert (
        drift.score(
            reference, reference.sample(frac=1, random_state=0), method=method, bins=10, categorical=True
        )
        == 0
    )
    changed = pd.Series(["red"] * 900 + ["blue"] * 50 + ["green"] * 50)  # a new category counts too
    assert drift.score(reference, changed, method=method, bins=10, categorical=True) > 0.3


def test_empty_values_are_left_out_and_an_empty_column_scores_nothing():
    with_gaps = pd.concat([numbers(), pd.Series([np.nan] * 100)])
    assert drift.score(numbers(), with_gaps, method="psi", bins=10, categorical=False) < 0.1
    assert drift.score(numbers(), pd.Series([np.nan]), method="psi", bins=10, categorical=False) == 0.0


def frames(shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    def frame(offset: float) -> pd.DataFrame:
        return pd.DataFrame({"x": numbers(offset), "y": numbers(), "label": RNG.choice(["a", "b"], 2000)})

    return frame(0.0), frame(shift)


@pytest.mark.parametrize(("on_drift", "expected"), [("warn", "warn"), ("block", "block")])
def test_a_drifted_feature_sets_the_status_on_drift_says(on_drift, expected):
    settings = Validate(on_drift=on_drift)
    result = drift.compare(
        *frames(1.5), features=["x", "y"], label="label", categorical_label=True, settings=settings
    )
    assert drift.drifted(result) == ["x"]
    assert drift.status(result, settings) == expected
    same = drift.compare(
        *frames(0.0), features=["x", "y"], label="label", categorical_label=True, settings=settings
    )
    assert drift.status(same, settings) == "ok"


def test_the_report_has_the_contracts_shape_and_the_run_logs_its_summary():
    settings = Validate(method="ks")
    result = drift.compare(
        *frames(1.5), features=["x", "y"], label="label", categorical_label=True, settings=settings
    )
    report = drift.report(
        "t", drift.status(result, settings), settings, drift=result, rows={"previous": 1, "current": 2}
    )
    assert set(report) >= {
        "dataset",
        "status",
        "method",
        "threshold",
        "features",
        "label",
        "train_vs_test",
        "rows",
    }
    assert report["threshold"] == 0.1 and report["label"]["drifted"] is False
    assert drift.summary(report) == {
        "drift_features_drifted": 1,
        "drift_max_score": report["features"]["x"]["score"],
    }


def test_a_non_table_report_is_skipped_with_nothing_in_it():
    report = drift.report("digits", "skipped", Validate())
    assert report["status"] == "skipped" and report["features"] == {} and report["label"] is None
    assert drift.summary(report) == {"drift_features_drifted": 0, "drift_max_score": 0.0}


def test_the_newest_rows_are_the_test_share_in_time_order_dates_as_dates():
    frame = pd.DataFrame({"day": ["1/10/2021", "1/2/2021", "1/3/2021", "1/1/2021"], "x": [4, 1, 2, 0]})
    table = CsvSource(source="csv", path="t.csv", target="x", time="day", split={"test_size": 0.25})
    rest, newest = drift.newest_rows("t", frame, table)
    assert newest["x"].tolist() == [4] and rest["x"].tolist() == [0, 1, 2]


def test_the_newest_rows_follow_a_test_window_as_preprocess_does():
    frame = pd.DataFrame(
        {"day": pd.date_range("2024-01-01", periods=10, freq="D").astype(str), "x": range(10)}
    )
    table = CsvSource(source="csv", path="t.csv", target="x", time="day", split={"test_window": "3D"})
    rest, newest = drift.newest_rows("t", frame, table)
    assert newest["x"].tolist() == [7, 8, 9] and len(rest) == 7


def test_drift_is_measured_on_the_columns_preprocess_makes_inputs_of():
    columns = ["day", "price", "color", "id", "label"]
    table = CsvSource(source="csv", path="t.csv", target="label", time="day", drop=["id"])
    assert drift.feature_columns(table, columns) == ["price", "color"]
    series = CsvSource(source="csv", path="t.csv", target="price", time="day", task="forecast")
    assert drift.feature_columns(series, columns) == []  # the target's own drift is the label's
