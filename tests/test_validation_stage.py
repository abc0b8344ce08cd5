"""validate@<dataset>: the pandera schema inferred from the first snapshot, the one-line messages of a
snapshot that breaks it, drift against the last snapshot that passed (warn / block), skipped kinds."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.core import paths
from pipeline.core.errors import PipelineError
from pipeline.datasets import validation
from pipeline.tracking import runs
from stages import train as train_stage
from stages import validate as validate_stage
from tests.conftest import ROOT, in_process, make_project, run, subprocess_env
from tests.test_tracking import client_for, make_experiment, sqlite_uri  # noqa: F401 (a fixture)

DATASET = "shop"
SCHEMA = Path("schemas/shop.yaml")


def table(n: int = 400, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "day": np.arange(n),
            "price": rng.normal(10 + shift, 2, n).round(2),
            "color": rng.choice(["red", "green", "blue"], n),
            "label": rng.choice(["buy", "skip"], n),
        }
    )


def infer(frame: pd.DataFrame):
    return validation.infer(frame, target="label", classification=True, time="day", max_missing_rate=0.1)


def problem(frame: pd.DataFrame, schema) -> str:
    with pytest.raises(PipelineError) as failure:
        validation.check(frame, schema, target="label", where="data/raw/shop/data.csv", schema_path=SCHEMA)
    return str(failure.value)


def test_a_schema_saved_as_yaml_reads_back_and_passes_natural_growth(tmp_path):
    path = tmp_path / "shop.yaml"
    validation.save(infer(table()), path, DATASET)
    text = path.read_text()
    assert text.startswith("# The schema validate@shop checks") and "commit it" in text
    schema = validation.load(path)
    grown = pd.concat([table(), table(n=100, seed=1).assign(day=lambda f: f["day"] + 400)])
    validation.check(grown, schema, target="label", where="x", schema_path=SCHEMA)


def test_a_renamed_column_is_named_with_the_columns_now():
    message = problem(table().rename(columns={"price": "cost"}), infer(table()))
    assert (
        "column 'price' is missing (columns now: day, cost, color, label; new: cost: was it renamed?)"
        in message
    )
    assert "\n" not in message and str(SCHEMA) in message


def test_strings_in_a_numeric_column_are_a_wrong_type_and_nothing_else_of_it():
    broken = table().astype({"price": object})
    broken.loc[3, "price"] = "n/a"
    message = problem(broken, infer(table()))
    assert "column 'price' should hold float64 values, not 'n/a'" in message
    assert message.count("'price'") == 1


def test_a_new_label_is_named_with_the_known_ones():
    grown = table()
    grown.loc[5, "label"] = "return"
    assert "column 'label' has new label(s) 'return' (allowed: buy, skip)" in problem(grown, infer(table()))


def test_too_many_missing_values_stop_and_values_out_of_range_only_warn():
    first = table()
    first.loc[:19, "price"] = np.nan  # 5% empty: the schema allows 15%
    later = table()
    later.loc[:199, "price"] = np.nan
    later.loc[300, "price"] = 1e6
    message = problem(later, infer(first))
    assert "column 'price' is 50% empty, more than the schema's 15%" in message
    assert "outside" not in message
    later.loc[:199, "price"] = 10.0
    (warning,) = validation.check(later, infer(first), target="label", where="x", schema_path=SCHEMA)
    assert "column 'price' has values outside" in warning and "1000000.0" in warning
    assert "raise_warning: false" in warning


def test_a_range_made_a_hard_rule_in_the_yaml_stops(tmp_path):
    path = tmp_path / "shop.yaml"
    validation.save(infer(table()), path, DATASET)
    path.write_text(path.read_text().replace("raise_warning: true", "raise_warning: false"))
    later = table()
    later.loc[300, "price"] = -1e6
    message = problem(later, validation.load(path))
    assert "column 'price' has values outside" in message and "-1000000.0" in message


def test_a_column_without_gaps_allows_none():
    later = table()
    later.loc[0, "color"] = None
    assert "column 'color' has 1 empty value(s), the schema allows none" in problem(later, infer(table()))


# --- the stage, in-process in a project folder -------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)
    deliver(table())
    return tmp_path


def write_params(root: Path, **settings) -> None:
    params = {
        "datasets": {
            DATASET: {"source": "csv", "path": "shop.csv", "target": "label", "time": "day"},
            "digits": {"source": "sklearn", "name": "digits"},
        },
        "validate": settings,
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def deliver(frame: pd.DataFrame) -> None:
    """A new snapshot, as download@ leaves it."""
    paths.raw_dir(DATASET).mkdir(parents=True, exist_ok=True)
    frame.to_csv(paths.raw_dir(DATASET) / "data.csv", index=False)


def validate(dataset: str = DATASET) -> tuple[int, str, dict | None]:
    code, records = in_process(validate_stage.main, [dataset])
    report = paths.drift_report(dataset)
    return (
        code,
        " ".join(r.getMessage() for r in records),
        json.loads(report.read_text()) if report.exists() else None,
    )


def test_the_first_snapshot_writes_the_schema_and_reports_first_with_test_vs_rest(project):
    code, _, report = validate()
    assert code == 0 and SCHEMA.is_file()
    assert (
        report["status"] == "first"
        and report["features"] == {}
        and report["rows"] == {"previous": None, "current": 400}
    )
    assert set(report["train_vs_test"]["features"]) == {"price", "color"}
    assert paths.drift_plot(DATASET).stat().st_size > 1000


def test_new_data_is_compared_with_the_last_snapshot_and_a_rerun_gives_the_same_report(project):
    validate()
    deliver(table(n=500, shift=3.0, seed=1))
    code, _, report = validate()
    assert code == 0 and report["status"] == "warn" and report["features"]["price"]["drifted"]
    assert report["rows"] == {"previous": 400, "current": 500}
    assert validate()[2] == report  # same snapshot again (e.g. after a code edit): same baseline


def test_a_trend_past_the_inferred_range_warns_into_the_report_and_goes_on(project):
    validate()
    deliver(table(seed=1).assign(price=lambda f: f["price"] + 100))  # a series that grew
    code, _, report = validate()
    (warning,) = report["schema_warnings"]
    assert code == 0 and "column 'price' has values outside" in warning
    assert validate()[2]["schema_warnings"] == [warning]


def test_block_stops_naming_the_feature_and_keeps_the_old_baseline(project):
    validate()
    write_params(project, on_drift="block")
    deliver(table(shift=3.0, seed=1))
    code, message, report = validate()
    assert code == 2 and "drifted from its last snapshot in price" in message
    assert report["status"] == "block"
    deliver(
        table(seed=2)
    )  # a delivery like the first one passes: the blocked one did not become the baseline
    assert validate()[2]["status"] == "ok"


def test_a_schema_failure_writes_no_report(project):
    validate()
    paths.drift_report(DATASET).unlink()
    deliver(table().rename(columns={"color": "colour"}))
    code, message, report = validate()
    assert code == 2 and "column 'color' is missing" in message and report is None


def test_a_data_set_that_is_no_table_is_skipped_without_pandas(project):
    code, _, report = validate("digits")
    assert code == 0 and report["status"] == "skipped"
    program = (
        "import sys; from stages import validate; validate.main(['digits']); print('pandas' in sys.modules)"
    )
    done = run(
        [sys.executable, "-c", program], cwd=project, env={**subprocess_env(), "PYTHONPATH": str(ROOT)}
    )
    assert done.stdout.strip().endswith("False")


# --- dvc repro in a copy of the project ---------------------------------------------------------


@pytest.mark.e2e
def test_dvc_repro_stops_at_validate_before_preprocess(tmp_path):
    csv = tmp_path / "shop.csv"
    table().to_csv(csv, index=False)

    def edit(params: dict) -> None:
        params["datasets"] = {DATASET: {"source": "csv", "path": str(csv), "target": "label", "time": "day"}}
        params["experiments"] = {}

    root = make_project(tmp_path / "project", edit)
    run(["dvc", "repro", f"preprocess@{DATASET}"], cwd=root)
    assert (root / SCHEMA).is_file()
    assert json.loads((root / paths.drift_report(DATASET)).read_text())["status"] == "first"

    table().rename(columns={"price": "cost"}).to_csv(csv, index=False)
    failed = run(["dvc", "repro", f"preprocess@{DATASET}"], cwd=root, check=False)
    assert failed.returncode != 0 and "column 'price' is missing" in failed.stderr
    assert f"Running stage 'preprocess@{DATASET}'" not in failed.stdout

    table(shift=3.0, seed=1).to_csv(csv, index=False)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["validate"]["on_drift"] = "block"
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    failed = run(["dvc", "repro", f"preprocess@{DATASET}"], cwd=root, check=False)
    assert failed.returncode != 0 and "drifted from its last snapshot in price" in failed.stderr
    assert f"Running stage 'preprocess@{DATASET}'" not in failed.stdout


@pytest.mark.usefixtures("sqlite_uri")
def test_a_training_run_logs_the_drift_report_of_its_data(project):
    validate()
    deliver(table(shift=3.0, seed=1))
    validate()
    experiment = make_experiment().model_copy(update={"dataset": DATASET})
    with runs.run(experiment, stage="train") as run:
        train_stage.log_drift(run, DATASET)
    client = client_for(os.environ["MLFLOW_TRACKING_URI"])
    assert client.get_run(run.run_id).data.metrics["drift_features_drifted"] == 1
    logged = sorted(artifact.path for artifact in client.list_artifacts(run.run_id, "data/drift"))
    assert logged == ["data/drift/shop.json", "data/drift/shop.png"]


def test_a_table_data_set_without_its_download_says_what_to_run(project):
    (paths.raw_dir(DATASET) / "data.csv").unlink()
    code, message, _ = validate()
    assert code == 2 and "run `dvc repro download@shop`" in message
