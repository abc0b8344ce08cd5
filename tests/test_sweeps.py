"""A queued `dvc exp` sweep against a live `mlflow server`: its points never change the registry, they
record what they would promote, and their runs say which point they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import make_project, run, shrink_params, subprocess_env
from tests.test_pipeline_e2e import edit_params, wait_for_experiments

pytestmark = pytest.mark.e2e

MODEL = "sweep-iris"  # experiment_prefix + dataset: this test's own registered model on the shared server


def shrink(params: dict) -> None:
    shrink_params(params, {"iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"}})
    params["models"]["sklearn"]["logreg"]["hyperparameters"]["C"] = 0.0001  # a weak champion to beat
    params["mlflow"].update(experiment_prefix="sweep-", required=True)


def promotion_of(project: Path, experiment: str) -> dict:
    """reports/promotion.json as the queued experiment committed it."""
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], project).stdout.split()
    (ref,) = [ref for ref in refs if ref.endswith(f"/{experiment}")]
    return json.loads(run(["git", "show", f"{ref}:reports/promotion.json"], project).stdout)


def test_a_queued_sweep_records_but_never_moves_the_champion(tmp_path: Path, mlflow_server: str) -> None:
    env = {**subprocess_env(), "MLFLOW_TRACKING_URI": mlflow_server}
    client = MlflowClient(mlflow_server, registry_uri=mlflow_server)
    project = make_project(tmp_path / "project", shrink)
    run(["dvc", "repro"], project, env=env)
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline"], project)

    sweep = "models.sklearn.logreg.hyperparameters.C=1.0,10.0"
    run(["dvc", "exp", "run", "--queue", "-S", sweep], project, env=env)
    run(["dvc", "queue", "start", "-j", "2"], project, env=env)
    names = wait_for_experiments(project, 2)

    # docs/sweeps.md's flow (a committed dvc.lock first) gives a clean sweep: every point checks out the
    # baseline's outputs, and only what the sweep changed differs from the baseline
    for name in names:
        assert "No file hash info" not in run(["dvc", "queue", "logs", name], project).stdout
    table = run(["dvc", "exp", "show", "--only-changed", "--csv"], project).stdout
    changed = set(table.splitlines()[0].split(","))
    assert {"models.sklearn.logreg.hyperparameters.C", "test.accuracy"} <= changed
    assert not {"seed", "train.sklearn.n_jobs", "mlflow.required"} & changed

    assert client.get_model_version_by_alias(MODEL, "champion").version == champion
    assert [v.version for v in client.search_model_versions(f"name = '{MODEL}'")] == [champion]
    for name in names:
        record = promotion_of(project, name)["iris"]
        assert record["would_promote"] and not record["promoted"], record
        assert "queued or --temp copy" in record["dry_run"]

    runs = client.search_runs(
        [client.get_experiment_by_name("sweep-iris").experiment_id], "tags.`dvc.exp_name` != ''"
    )
    by_point = {r.data.tags["dvc.exp_name"]: r for r in runs}
    assert sorted(by_point) == sorted(names)
    for name, logged in by_point.items():
        c = logged.data.params["model.hyperparameters.C"]
        assert logged.info.run_name == f"iris-logreg {name} C={c}"
        assert logged.data.tags["pipeline.changed_params"] == f"model.hyperparameters.C={c}"

    # the workspace takes the best point and its own `dvc repro` promotes it
    edit_params(project, lambda p: p["models"]["sklearn"]["logreg"]["hyperparameters"].update(C=10.0))
    run(["dvc", "repro"], project, env=env)
    record = json.loads((project / "reports" / "promotion.json").read_text())["iris"]
    assert record["promoted"] and "dry_run" not in record
    assert client.get_model_version_by_alias(MODEL, "champion").version == record["version"] != champion
