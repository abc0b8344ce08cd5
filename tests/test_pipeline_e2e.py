"""End to end: `dvc repro` of a shrunken copy of the real pipeline, then what DVC re-runs after edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.core import storage
from pipeline.workflow.dvc_log import executed_stages
from tests.conftest import make_project, run, shrink_params

pytestmark = pytest.mark.e2e

EXPERIMENTS = ("iris-logreg", "iris-dnn", "sunspots-ridge", "sunspots-lstm")


def shrink(params: dict) -> None:
    """Two data sets, one experiment per backend on each, two epochs: the real config, made small."""
    shrink_params(
        params,
        {
            "iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"},
            "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn"},
            "sunspots-ridge": {"dataset": "sunspots", "backend": "sklearn", "model": "ridge"},
            "sunspots-lstm": {"dataset": "sunspots", "backend": "keras", "model": "lstm_forecaster"},
        },
    )


def stale_stages(project: Path) -> set[str]:
    return set(json.loads(run(["dvc", "status", "--json"], project).stdout))


def edit_params(project: Path, edit) -> None:
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    edit(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project copy on which `dvc repro` has run once."""
    root = make_project(tmp_path_factory.mktemp("e2e") / "project", shrink)
    run(["dvc", "repro"], root)
    return root


def test_first_repro_writes_every_output(project):
    for name in EXPERIMENTS:
        metrics = storage.read_json(project / "results" / name / "metrics.json")
        assert set(metrics) >= {"train", "val", "test", "model_size_bytes"}
        assert storage.read_json(project / "results" / name / "run.json")["status"] == "logged"
    assert "iris" in (project / "reports" / "leaderboard.md").read_text()
    promotion = storage.read_json(project / "reports" / "promotion.json")
    assert promotion["iris"]["promoted"] and promotion["sunspots"]["experiment"] in EXPERIMENTS


def test_plots_show_renders_the_confusion_matrix_without_flags(project):
    shown = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)["data"]
    (confusion,) = shown["results/iris-logreg/plots/confusion.csv"]
    encoding = confusion["content"]["spec"]["encoding"]
    assert (encoding["x"]["field"], encoding["y"]["field"]) == ("actual", "predicted")
    assert shown["results/iris-logreg/plots/confusion.png"][0]["type"] == "image"


def test_second_repro_executes_nothing(project):
    result = run(["dvc", "repro"], project)
    assert "Running stage" not in result.stdout
    assert stale_stages(project) == set()


def test_editing_a_keras_model_marks_only_its_experiments(project):
    edit_params(project, lambda p: p["models"]["keras"]["iris_dnn"].update(hidden_units=[8, 8]))
    # `dvc status` names the stages whose own deps changed; `fingerprint` checks every params edit first
    assert stale_stages(project) == {"fingerprint", "train@iris-dnn"}
    run(["git", "checkout", "params.yaml"], project)


def test_editing_an_experiment_re_runs_its_evaluation_through_train(project):
    """evaluate@ tracks no params: train@'s new outputs are what re-run it."""

    def swap_model(params: dict) -> None:  # the experiment now names another (new) model
        sklearn = params["models"]["sklearn"]
        sklearn["logreg_c2"] = {**sklearn["logreg"], "hyperparameters": {"C": 2.0, "max_iter": 2000}}
        params["experiments"]["iris-logreg"]["model"] = "logreg_c2"

    edit_params(project, swap_model)
    try:
        stale = {"fingerprint", "train@iris-logreg", "report", "promote"}  # not evaluate@
        assert stale_stages(project) == stale
        executed = executed_stages(run(["dvc", "repro"], project).stdout)
    finally:
        run(["git", "checkout", "params.yaml"], project)
        run(["dvc", "repro"], project)  # back to the first run's outputs (DVC's run cache)
    assert executed == ["fingerprint", "train@iris-logreg", "evaluate@iris-logreg", "report", "promote"]
    assert stale_stages(project) == set()


def test_editing_one_dataset_marks_only_its_chain(project):
    edit_params(project, lambda p: p["datasets"]["sunspots"].update(window=6))
    assert stale_stages(project) == {
        "fingerprint",
        "sources",
        "download@sunspots",
        "validate@sunspots",
        "preprocess@sunspots",
    }
    run(["git", "checkout", "params.yaml"], project)


def test_editing_keras_code_marks_only_keras_stages_once_fingerprinted(project):
    builders = project / "pipeline" / "backends" / "keras" / "builders.py"
    original = builders.read_text()
    builders.write_text(original + "\n# a change\n")
    try:
        assert stale_stages(project) == {"fingerprint"}  # the only stage that lists the code itself
        run(["dvc", "repro", "fingerprint"], project)
        stale = stale_stages(project)
    finally:
        builders.write_text(original)
        run(["dvc", "repro", "fingerprint"], project)
    # evaluate never builds a model: it re-runs once train has written a new one
    assert stale == {"train@iris-dnn", "train@sunspots-lstm"}
    assert stale_stages(project) == set()


def mlflow_runs(project: Path) -> list:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, max_results=1000)


def test_queued_sweep_logs_complete_runs_into_the_workspace_store(project):
    """Two queued experiments, two workers, starting from no tracking store at all."""
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline"], project)
    for stale in project.glob("mlflow.db*"):
        stale.unlink()
    for c in ("0.5", "2.0"):
        run(["dvc", "exp", "run", "--queue", "-S", f"models.sklearn.logreg.hyperparameters.C={c}"], project)
    run(["dvc", "queue", "start", "-j", "2"], project)  # returns at once; wait for both below
    names = wait_for_experiments(project, 2)
    runs = [r for r in mlflow_runs(project) if r.data.tags.get("dvc.exp_name") in names]
    assert sorted(r.data.tags["dvc.exp_name"] for r in runs) == sorted(names)  # one run each, none lost
    for logged in runs:
        c = logged.data.params["model.hyperparameters.C"]
        assert c in ("0.5", "2.0")
        assert logged.info.run_name == f"iris-logreg {logged.data.tags['dvc.exp_name']} C={c}"
        assert "test_accuracy" in logged.data.metrics  # evaluate added to the run train opened


def wait_for_experiments(project: Path, n: int, timeout: float = 600) -> list[str]:
    """Names of the first `n` finished queued experiments (fails on a failed one or a timeout)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = run(["dvc", "queue", "status"], project).stdout
        rows = [line.split() for line in table.splitlines()[1:] if line.strip()]
        assert not [row for row in rows if row[-1] == "Failed"], table
        done = [row[1] for row in rows if row[-1] == "Success"]
        if len(done) >= n:
            return done
        time.sleep(3)
    raise AssertionError(f"queued experiments did not finish in {timeout} s")
