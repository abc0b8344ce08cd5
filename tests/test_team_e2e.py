"""Two machines on the team stack: clone A runs the pipeline against the shared MLflow server and S3
remote; clone B, a fresh clone with an empty cache, restores every stage without running one, then
runs a queued sweep that clone A pulls through a bare git remote (the CI-runner pattern)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from pipeline.core import storage
from pipeline.workflow.dvc_log import stage_outcomes
from tests.conftest import make_project, run, shrink_params, subprocess_env
from tests.test_pipeline_e2e import wait_for_experiments

pytestmark = pytest.mark.e2e

EXPERIMENT = "iris-logreg"
PREFIX = "team-e2e-"  # MLflow experiment and registered model: team-e2e-iris
MODEL = f"{PREFIX}iris"
SWEEP = ("0.5", "2.0")  # models.sklearn.logreg.hyperparameters.C of the queued sweep


def shrink(params: dict) -> None:
    """One sklearn experiment on iris; tracking required (a stage fails rather than log nowhere)."""
    experiments = {EXPERIMENT: {"dataset": "iris", "backend": "sklearn", "model": "logreg"}}
    shrink_params(params, experiments, epochs=1)
    params["mlflow"].update(experiment_prefix=PREFIX, required=True, timeout_seconds=30)


@dataclass(frozen=True)
class Team:
    a: Path  # the first machine: ran the pipeline, pushed
    b: Path  # the second: a fresh clone that pulled
    env: dict[str, str]  # what dvc and the stages run with: the stack's tracking URI and login
    b_repro: str  # the output of clone B's `dvc repro`


@pytest.fixture(scope="module")
def team(tmp_path_factory, team_stack) -> Team:
    """Clone A runs and pushes (git to a bare origin, data and run-cache to the stack's S3); clone B
    clones origin, points DVC at the stack from the env file alone, pulls and reproduces."""
    base = tmp_path_factory.mktemp("team")
    tracking = {key: value for key, value in team_stack.env.items() if key.startswith("MLFLOW_")}
    env = {**subprocess_env(), **tracking}
    a = make_project(base / "a", shrink)
    team_stack.script("remote", str(team_stack.env_file), cwd=a)
    run(["dvc", "repro"], a, env=env)
    run(["git", "add", "-A"], a)
    run(["git", "commit", "-qm", "run on machine A"], a)
    run(["dvc", "push", "--run-cache"], a, env=env)
    origin = base / "origin.git"
    run(["git", "clone", "-q", "--bare", str(a), str(origin)], base)
    run(["git", "remote", "add", "origin", str(origin)], a)
    b = base / "b"
    run(["git", "clone", "-q", str(origin), str(b)], base)
    team_stack.script("remote", str(team_stack.env_file), cwd=b)
    run(["dvc", "pull", "--run-cache"], b, env=env)
    return Team(a, b, env, run(["dvc", "repro"], b, env=env).stdout)


@pytest.fixture
def login(team, monkeypatch) -> None:
    """This process as a developer logged in to the stack's MLflow server."""
    for key, value in team.env.items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)


def mlflow_client():
    import mlflow

    uri = os.environ["MLFLOW_TRACKING_URI"]
    return mlflow.MlflowClient(uri, registry_uri=uri)  # not a registry URI an earlier test left set


def test_clone_a_logs_its_run_over_http_with_a_login(team, team_stack, login):
    record = storage.read_json(team.a / "results" / EXPERIMENT / "run.json")
    assert record["status"] == "logged" and record["tracking_uri"] == team_stack.tracking_uri
    logged = mlflow_client().get_run(record["run_id"])
    assert "test_accuracy" in logged.data.metrics  # evaluate@ added to the run train@ opened


def test_the_model_and_figures_are_in_the_bucket(team, team_stack):
    """Read with the server's S3 keys, not through MLflow: the artifacts really are in object storage."""
    run_id = storage.read_json(team.a / "results" / EXPERIMENT / "run.json")["run_id"]
    access_key, secret_key = team_stack.s3_keys("SERVER")
    s3 = boto3.client(
        "s3",
        endpoint_url=team_stack.s3_endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="mlflow", Prefix="artifacts/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    assert any(run_id in key and key.endswith(".png") for key in keys), keys
    assert any(key.endswith("/MLmodel") for key in keys), keys


def test_the_shared_registry_names_a_champion(team, login):
    promotion = storage.read_json(team.a / "reports" / "promotion.json")["iris"]
    assert promotion["model"] == MODEL and promotion["experiment"] == EXPERIMENT
    champion = mlflow_client().get_model_version_by_alias(MODEL, "champion")
    run_id = storage.read_json(team.a / "results" / EXPERIMENT / "run.json")["run_id"]
    assert champion.run_id == run_id


def test_clone_b_restores_every_stage_without_running_one(team):
    outcomes = stage_outcomes(team.b_repro)
    assert outcomes.ran == [] and outcomes.cached == []
    assert "promote" in outcomes.unchanged and f"train@{EXPERIMENT}" in outcomes.unchanged
    for name in ("results/iris-logreg/metrics.json", "reports/promotion.json", "sources/iris"):
        assert (team.b / name).read_bytes() == (team.a / name).read_bytes()


def test_a_sweep_queued_on_clone_b_logs_to_the_server_and_reaches_clone_a(team, login):
    for c in SWEEP:
        option = f"models.sklearn.logreg.hyperparameters.C={c}"
        run(["dvc", "exp", "run", "--queue", "-S", option], team.b, env=team.env)
    run(["dvc", "queue", "start", "-j", "2"], team.b, env=team.env)
    names = wait_for_experiments(team.b, len(SWEEP))
    client = mlflow_client()
    experiment = client.get_experiment_by_name(MODEL)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    swept = {r.data.tags.get("dvc.exp_name"): r.data.params["model.hyperparameters.C"] for r in runs}
    assert sorted(swept.get(name) for name in names) == sorted(SWEEP)  # one run each, none lost
    run(["dvc", "exp", "push", "origin", *names], team.b, env=team.env)
    run(["dvc", "exp", "pull", "origin", *names], team.a, env=team.env)
    listed = run(["dvc", "exp", "list", "--name-only"], team.a).stdout.split()
    assert sorted(listed) == sorted(names)
