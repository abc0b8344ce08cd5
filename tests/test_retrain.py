"""`make retrain` (python -m pipeline.workflow.retrain): pull, repro, gate, push against a directory remote.

The e2e tests follow docs/ci-retraining.md on a shrunken copy of the project: a DVC
remote committed in .dvc/config, MLFLOW_TRACKING_URI from the environment, `--require-mlflow` as in
CI. The first retrain pushes; a fresh clone restores every stage from the remote's run-cache; a
planted regression fails the gate with its table and pushes nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import config
from pipeline.core import paths, storage
from pipeline.decisions import gate
from pipeline.workflow import dvc_log, retrain, retrain_report
from tests.conftest import ROOT, make_project, run, shrink_params, subprocess_env

TRAINING = {"train@iris-logreg", "train@iris-dnn", "train@sunspots-ridge"}


def shrink(params: dict) -> None:
    """Two data sets; a scikit-learn and a two-epoch Keras model on iris, a ridge forecaster on sunspots."""
    shrink_params(
        params,
        {
            "iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"},
            "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn"},
            "sunspots-ridge": {"dataset": "sunspots", "backend": "sklearn", "model": "ridge"},
        },
    )


def remote_files(remote: Path) -> dict[str, float]:
    """Every file of the remote with its modification time: a push (even a re-upload) changes it."""
    return {
        str(path.relative_to(remote)): path.stat().st_mtime for path in remote.rglob("*") if path.is_file()
    }


def retrain_in(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return run(
        [sys.executable, "-m", "pipeline.workflow.retrain", "--require-mlflow", *args],
        project,
        check=False,
        env=env,
    )


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """A project copy with a committed directory remote, after one `python -m pipeline.workflow.retrain`."""
    base = tmp_path_factory.mktemp("retrain")
    remote = base / "remote"
    remote.mkdir()
    project = make_project(base / "project", shrink)
    run(["dvc", "remote", "add", "-d", "storage", str(remote)], project)  # docs/ci-retraining.md step 1
    run(["git", "commit", "-qam", "DVC remote"], project)
    env = {
        **subprocess_env(),
        "MLFLOW_TRACKING_URI": f"sqlite:///{base / 'mlflow.db'}",  # one tracking server for every run
        "GITHUB_STEP_SUMMARY": str(base / "summary.md"),
    }
    first = retrain_in(project, env, "--report", str(base / "report.md"))
    return {"base": base, "remote": remote, "project": project, "env": env, "first": first}


@pytest.mark.e2e
def test_first_retrain_runs_everything_and_pushes(setup):
    first, project = setup["first"], setup["project"]
    assert first.returncode == 0, output(first)
    outcomes = dvc_log.stage_outcomes(first.stdout)
    assert set(outcomes.ran) >= TRAINING and "promote" in outcomes.ran
    files = remote_files(setup["remote"])
    assert any(name.startswith("files/") for name in files) and any(
        name.startswith("runs/") for name in files
    )
    assert "gate passed: 9 tracked metric(s) compared (9 new)" in output(first)
    # the stages ran with mlflow.required: true, yet params.yaml and dvc.lock agree with the committed value
    assert run(["git", "status", "--porcelain", "params.yaml"], project).stdout == ""
    assert yaml.safe_load((project / "params.yaml").read_text())["mlflow"]["required"] is False
    assert run(["dvc", "status", "--json"], project).stdout.strip() == "{}"


@pytest.mark.e2e
def test_the_job_summary_and_report_hold_table_metrics_diff_and_leaderboard(setup):
    summary = (setup["base"] / "summary.md").read_text()
    assert summary.strip() == (setup["base"] / "report.md").read_text().strip()
    assert "### Gate: passed" in summary
    assert "| iris-logreg | accuracy | higher | - |" in summary
    assert "### `dvc metrics diff`" in summary and "results/iris-logreg/metrics.json" in summary
    assert "### Leaderboard" in summary and "sunspots-ridge" in summary


@pytest.mark.e2e
def test_a_fresh_clone_restores_every_stage_from_the_run_cache(setup):
    assert setup["first"].returncode == 0
    clone = setup["base"] / "clone"
    run(["git", "clone", "-q", str(setup["project"]), str(clone)], setup["base"])  # the remote comes along
    assert not (clone / "dvc.lock").exists()  # nothing committed: only the run-cache knows the results
    second = retrain_in(clone, setup["env"])
    assert second.returncode == 0, output(second)
    outcomes = dvc_log.stage_outcomes(second.stdout)
    assert set(outcomes.cached) >= TRAINING
    # DVC's run-cache keeps no `cache: false` or `persist` output: promote, the params check
    # (`fingerprint`, whose output persists when a check fails), the links to local files
    # (`sources`) and validate@ (its reference of the last snapshot persists) run again, and their
    # byte-identical outputs leave everything else restored
    rerun = {"fingerprint", "sources", "promote"}
    assert {stage for stage in outcomes.ran if not stage.startswith("validate@")} <= rerun, outcomes.ran
    assert f"{len(outcomes.cached)} stage(s) restored from the run-cache" in second.stderr
    assert (clone / "models" / "iris-dnn").is_dir() and (
        clone / "results" / "iris-logreg" / "metrics.json"
    ).exists()


@pytest.mark.e2e
def test_unchanged_sources_code_and_params_retrain_nothing_and_push_nothing(setup):
    assert setup["first"].returncode == 0
    before = remote_files(setup["remote"])
    report = setup["base"] / "unchanged.md"
    result = retrain_in(setup["project"], setup["env"], "--report", str(report))
    assert result.returncode == 0, output(result)
    assert set(dvc_log.stage_outcomes(result.stdout).ran) <= set(retrain.REFRESH)
    assert "no new data: nothing retrained" in output(result) and "no new data" in report.read_text()
    assert remote_files(setup["remote"]) == before


@pytest.mark.e2e
def test_a_regression_fails_the_gate_with_its_table_and_pushes_nothing(setup):
    project, remote = setup["project"], setup["remote"]
    assert setup["first"].returncode == 0
    run(["git", "add", "dvc.lock"], project)  # the retrain's pull request, merged: the new baseline
    run(["git", "commit", "-qm", "Retrain: update dvc.lock"], project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["models"]["sklearn"]["logreg"]["hyperparameters"]["C"] = 1e-4  # a much weaker iris-logreg
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = remote_files(remote)

    result = retrain_in(project, setup["env"])

    assert result.returncode == 1, output(result)
    outcomes = dvc_log.stage_outcomes(result.stdout)
    # the params check, the refresh, then the edited experiment; promote never ran
    assert set(outcomes.ran) == {
        "fingerprint",
        "sources",
        "train@iris-logreg",
        "evaluate@iris-logreg",
        "report",
    }
    log = output(result)
    assert "| iris-logreg | accuracy | higher | 0.9333 |" in log and "**REGRESSED** |" in log
    assert "| sunspots-ridge | rmse | lower |" in log and "| same |" in log
    assert "gate FAILED" in log and "nothing was promoted or pushed" in log
    assert remote_files(remote) == before
    assert yaml.safe_load((project / "params.yaml").read_text())["mlflow"]["required"] is False


@pytest.mark.e2e
def test_no_remote_is_one_clear_error(tmp_path):
    project = make_project(tmp_path / "project", shrink)
    result = retrain_in(project, {**subprocess_env(), "MLFLOW_TRACKING_URI": "sqlite:///x.db"})
    assert result.returncode == 2
    assert "no default DVC remote: add one with `dvc remote add -d storage <url>`" in result.stderr
    assert "Traceback" not in result.stderr


# --- the pieces, without DVC runs ----------------------------------------------------------------


def test_stage_outcomes_parse_dvc_repro_logs():
    log = """Stage 'download@iris' didn't change, skipping
Stage 'train@iris-dnn' is cached - skipping run, checking out outputs
Updating lock file 'dvc.lock'

Running stage 'evaluate@iris-dnn':
> python -m stages.evaluate iris-dnn
"""
    outcomes = dvc_log.stage_outcomes(log)
    assert (outcomes.ran, outcomes.cached, outcomes.unchanged) == (
        ["evaluate@iris-dnn"],
        ["train@iris-dnn"],
        ["download@iris"],
    )
    assert outcomes.lines()[1] == "1 stage(s) restored from the run-cache: train@iris-dnn"
    assert dvc_log.executed_stages(log) == ["evaluate@iris-dnn"]


def test_environment_makes_mlflow_required_without_touching_params(monkeypatch):
    params = config.load(ROOT / "params.yaml")
    assert params.mlflow.required is False
    monkeypatch.setenv(config.MLFLOW_REQUIRED_ENV, "true")
    assert config.load(ROOT / "params.yaml").mlflow.required is True


def test_retrain_passes_the_tracking_uri_on_while_project_copies_drop_it(monkeypatch):
    """CI's MLFLOW_TRACKING_URI must reach the stages retrain runs; a test's or benchmark's copy logs to
    its own store. Both keep bytecode (each stage would compile TensorFlow) and find the venv's dvc."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    program = "import os, sys; print(sys.prefix, *map(os.environ.get, sys.argv[1:]))"
    shown = retrain._run(["python", "-c", program, "MLFLOW_TRACKING_URI", "PYTHONDONTWRITEBYTECODE"])
    assert shown.stdout.split() == [sys.prefix, "http://tracking.example:5000", "None"]
    copy_env = subprocess_env()
    assert "MLFLOW_TRACKING_URI" not in copy_env and "PYTHONDONTWRITEBYTECODE" not in copy_env
    assert copy_env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_promote_runs_only_after_the_gate(monkeypatch):
    monkeypatch.setattr(retrain, "pipeline_stages", lambda: ["download@a", "train@a", "report", "promote"])
    assert retrain.split_targets([]) == (["download@a", "train@a", "report"], ["promote"])
    assert retrain.split_targets(["train@a"]) == (["train@a"], [])
    assert retrain.split_targets(["promote"]) == (["download@a", "train@a", "report"], ["promote"])


def test_make_retrain_calls_the_module_with_its_arguments():
    result = subprocess.run(
        ["make", "-n", "retrain", "RETRAIN_ARGS=--no-push train@iris-dnn"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "cd . && python -m pipeline.workflow.retrain --no-push train@iris-dnn" in result.stdout.splitlines()
    )


def test_a_stage_is_listed_once_with_its_first_outcome():
    outcomes = dvc_log.Outcomes(ran=["sources"], unchanged=["fingerprint"])
    outcomes.extend(dvc_log.Outcomes(ran=["train@a"], unchanged=["fingerprint", "sources"]))
    assert (outcomes.ran, outcomes.unchanged) == (["sources", "train@a"], ["fingerprint"])


def test_only_the_refresh_having_run_is_no_new_data():
    assert retrain.nothing_new(dvc_log.Outcomes(ran=["sources"], unchanged=["download@iris", "train@a"]))
    assert not retrain.nothing_new(dvc_log.Outcomes(ran=["sources", "download@iris"]))
    assert not retrain.nothing_new(dvc_log.Outcomes(cached=["train@a"]))


def test_the_report_sections_read_snapshots_drift_and_promotion():
    now = {
        "co2": {"rows": 130, "time_range": ["1958-03-29", "2001-12-29"], "fetched_at": "2026-12-02T12:00:00Z"}
    }
    data = retrain_report.data_section(now, {"co2": {"rows": 100}})
    assert "| co2 | 100 | 130 | +30 | 1958-03-29 .. 2001-12-29 | 2026-12-02T12:00:00Z |" in data
    assert "| co2 | - | 130 | - |" in retrain_report.data_section(now, {"co2": None})  # no baseline snapshot
    drift = retrain_report.drift_section(
        {
            "co2": {
                "status": "warn",
                "method": "psi",
                "features": {
                    "co2": {"score": 0.4, "drifted": True},
                    "month": {"score": 0.0, "drifted": False},
                },
                "label": {"score": 0.3, "drifted": True},
                "schema_warnings": ["data.csv: column 'co2' has values outside [290.0, 380.0]: 381.2"],
            },
            "iris": {"status": "skipped", "features": {}, "label": None},
        }
    )
    assert "| co2 | warn | psi | co2, label |" in drift and "| iris | skipped | - | - |" in drift
    assert "\n- data.csv: column 'co2' has values outside [290.0, 380.0]: 381.2\n" in drift
    promotion = {
        "co2": {
            "metric": "rmse",
            "challenger": {"experiment": "co2-ridge", "value": 0.51},
            "champion_on_new_data": 0.62,
            "champion_stored": 0.4,
            "margin": 0.0,
            "decision": "promote",
        },
        "iris": {
            "metric": "accuracy",
            "challenger": {"experiment": "iris-logreg", "value": 0.9},
            "champion_on_new_data": None,
            "champion_stored": 0.95,
            "champion_basis": "the champion's stored value (not comparable on the new data: columns)",
            "margin": 0.0,
            "decision": "keep the champion",
        },
        "text": {"promoted": False, "reason": "registry unavailable"},
    }
    table = retrain_report.champion_section(promotion)
    assert "| co2 | rmse | co2-ridge 0.51 | 0.62 | 0.4 | 0 | promote |" in table
    assert "| iris | accuracy | iris-logreg 0.9 | - | 0.95 | 0 | keep the champion |" in table
    assert "- iris: the champion's stored value (not comparable on the new data: columns)" in table
    assert "text" not in table
    assert retrain_report.champion_section(None) == retrain_report.drift_section({}) == ""


def test_no_new_data_is_the_whole_report():
    text = retrain.report_markdown(("main", "a" * 40), dvc_log.Outcomes(ran=["sources"]), None, "")
    assert text.endswith("**no new data: nothing retrained**\n") and "Gate" not in text


def test_the_champion_table_is_reported_only_when_promote_ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    entry = {
        "metric": "accuracy",
        "challenger": {"experiment": "iris-logreg", "value": 0.9},
        "decision": "promote",
    }
    storage.write_json(paths.PROMOTION, {"iris": entry})
    result = gate.compare({}, {}, config.Gate())
    baseline = ("main", "a" * 40)
    shown = retrain.report_markdown(baseline, dvc_log.Outcomes(ran=["train@a", "promote"]), result, "")
    assert "### Champion vs challenger on the same data" in shown
    stopped = retrain.report_markdown(baseline, dvc_log.Outcomes(ran=["train@a"]), result, "")
    assert "Champion vs challenger" not in stopped  # the gate refused: promotion.json is a previous run's
