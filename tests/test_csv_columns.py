"""A CSV's columns: which ones feed a model (`features` / `drop`, never `time`), string columns encoded
on the training split, multivariate forecast windows, and the columns recorded in schema.json and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline import config
from pipeline.core.errors import PipelineError
from pipeline.datasets import categorical, sources
from pipeline.datasets.preprocess import preprocess
from tests.conftest import ROOT

COLOURS = ("red", "green", "blue")
MIXED = "date,colour,size,label\n" + "".join(
    f"2020-01-{1 + i % 28:02d},{COLOURS[i % 3]},{i % 5},{'yes' if i % 2 else 'no'}\n" for i in range(60)
)
SERIES = "day,demand,temperature,note\n" + "".join(
    f"2021-03-{1 + i:02d},{100 + 10 * np.sin(i):.3f},{15 + i * 0.5:.1f},n{i}\n" for i in range(30)
)


def prepared(tmp_path: Path, text: str, **fields):
    path = tmp_path / "input.csv"
    path.write_text(text)
    cfg = config.CsvSource(source="csv", path=str(path), **fields)
    sources.fetch_raw("mine", cfg, tmp_path / "raw")
    return preprocess("mine", cfg, tmp_path / "raw", seed=0)


def test_dropping_the_date_one_hot_encodes_the_string_column(tmp_path):
    data = prepared(tmp_path, MIXED, target="label", drop=["date"])
    columns = data.schema.extra["columns"]
    assert columns["inputs"] == ["size", "colour_blue", "colour_green", "colour_red"]
    assert columns["categorical"] == {
        "encoding": "onehot",
        "categories": {"colour": ["blue", "green", "red"]},
    }
    assert data.train.x.shape[1:] == (4,) and data.schema.input_shape == (4,)


def test_features_pick_columns_and_ordinal_codes(tmp_path):
    data = prepared(tmp_path, MIXED, target="label", features=["colour"], categorical="ordinal")
    assert data.schema.extra["columns"]["inputs"] == ["colour"] and data.train.x.shape[1:] == (1,)


def test_the_time_column_is_never_a_feature(tmp_path):
    data = prepared(tmp_path, MIXED, target="label", time="date")
    assert data.schema.extra["columns"] == {
        "target": "label",
        "time": "date",
        "inputs": ["size", "colour_blue", "colour_green", "colour_red"],
        "categorical": {"encoding": "onehot", "categories": {"colour": ["blue", "green", "red"]}},
    }


def test_categories_come_from_the_training_rows_only():
    values = {"colour": np.array(["red", "blue", "red", "purple"])}
    rows = [np.array([0, 1, 2]), np.array([3])]
    (train, unseen), names, found = categorical.encode(values, rows, "onehot")
    assert found == {"colour": ["blue", "red"]} and names == ["colour_blue", "colour_red"]
    np.testing.assert_array_equal(unseen, [[0, 0]])
    (_, unseen), _, _ = categorical.encode(values, rows, "ordinal")
    np.testing.assert_array_equal(unseen, [[-1]])


@pytest.mark.parametrize(
    ("text", "fields", "message"),
    [
        (MIXED, {"target": "label"}, "column 'date' holds dates; name it as `time`.*or list it in `drop`"),
        (
            MIXED,
            {"target": "label", "drop": ["weight"]},
            r"datasets.mine.drop: column 'weight' is not in the table",
        ),
        ("a,b,label\n1,x,0\n2,,1\n", {"target": "label"}, "column 'b' has empty values"),
        (
            SERIES,
            {"target": "demand", "task": "forecast", "time": "day", "features": ["note"]},
            "must be numeric",
        ),
        (MIXED, {"target": "label", "features": []}, "no feature columns left"),
    ],
    ids=["date-not-time", "unknown-drop", "empty-category", "string-forecast-feature", "no-features"],
)
def test_column_problems_are_named(tmp_path, text, fields, message):
    with pytest.raises(PipelineError, match=message):
        prepared(tmp_path, text, **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"features": ["a"], "drop": ["b"]}, "not both"),
        ({"drop": ["label"]}, "drop lists 'label', the target column"),
        ({"features": ["day"], "time": "day"}, "features lists 'day', the time column"),
        ({"task": "forecast", "time": "day", "drop": ["b"]}, "a forecast uses the target"),
    ],
)
def test_column_settings_are_checked_in_params(fields, message):
    with pytest.raises(ValueError, match=message):
        config.CsvSource(source="csv", path="t.csv", target="label", **fields)


def test_forecast_windows_hold_the_target_and_feature_histories(tmp_path):
    data = prepared(
        tmp_path, SERIES, target="demand", task="forecast", time="day", features=["temperature"], window=4
    )
    assert data.train.x.shape[1:] == (4, 2)
    assert data.schema.extra["columns"] == {
        "target": "demand",
        "time": "day",
        "inputs": ["demand", "temperature"],
    }
    scaler = data.schema.extra["scaler"]
    temperature = data.train.x[0, :, 1] * scaler["scale"][1] + scaler["shift"][1]
    np.testing.assert_allclose(temperature, [15.0, 15.5, 16.0, 16.5], rtol=1e-5)
    demand = data.schema.unscale_targets(data.train.y[:1])
    np.testing.assert_allclose(demand, [100 + 10 * np.sin(4)], atol=1e-3)


def test_rows_are_ordered_by_date_not_by_spelling(tmp_path):
    dates = [f"{month}/{day}/2021" for month in (1, 2, 3) for day in (1, 2, 10, 20)]  # as text 1/10 < 1/2
    rows = "".join(f"{date},{index}\n" for index, date in reversed(list(enumerate(dates))))
    data = prepared(tmp_path, "day,value\n" + rows, target="value", task="forecast", time="day", window=2)
    series = data.schema.unscale_targets(np.concatenate([data.train.y, data.val.y, data.test.y]))
    np.testing.assert_allclose(series, np.arange(2, 12), atol=1e-4)


def test_a_forecast_without_features_stays_univariate(tmp_path):
    data = prepared(tmp_path, SERIES, target="demand", task="forecast", time="day", window=4)
    assert data.train.x.shape[1:] == (4, 1) and data.schema.extra["columns"]["inputs"] == ["demand"]


def test_mlflow_records_the_columns_a_model_used(tmp_path, monkeypatch):
    import mlflow

    from stages import download, preprocess, train

    (tmp_path / "series.csv").write_text(SERIES)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["datasets"] = {
        "demand": {
            "source": "csv",
            "path": "series.csv",
            "target": "demand",
            "task": "forecast",
            "time": "day",
        }
    }
    params["datasets"]["demand"].update(features=["temperature"], window=4)
    params["experiments"] = {"demand-ridge": {"dataset": "demand", "backend": "sklearn", "model": "ridge"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / ".dvc").mkdir()  # marks the project root for the default tracking store
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.chdir(tmp_path)
    download.main(["demand"])
    preprocess.main(["demand"])
    train.main(["demand-ridge"])

    run_id = json.loads((tmp_path / "results" / "demand-ridge" / "run.json").read_text())["run_id"]
    logged = mlflow.MlflowClient(tracking_uri=store).get_run(run_id)
    (dataset_input,) = logged.inputs.dataset_inputs
    profile = json.loads(dataset_input.dataset.profile)
    assert profile["extra"]["columns"]["inputs"] == ["demand", "temperature"]
    assert logged.data.params["dataset.features"] == '["temperature"]'
