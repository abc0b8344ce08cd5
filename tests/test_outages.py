"""A run's log reads cleanly, tracking outages say what happened, and runs trained while the tracking
server was down are back-filled.

The e2e tests share one project, run by `dvc repro` with the system `python3` first on PATH (the
stages re-run themselves with the project's .venv) and MLflow pointed at a port nobody listens on;
they run in file order: a clean log, the leaderboard's mark, the back-fill, then required mode.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.core import storage
from pipeline.evaluation import figures
from tests.conftest import free_port, make_project, run, shrink_params, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
EXPERIMENTS = {
    "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn"},
    "iris-svc": {"dataset": "iris", "backend": "sklearn", "model": "svc"},
}
LOG_NOISE = ("cuInit", "FutureWarning", ".tmp", "no answer within", "Traceback")


def lacks_project_packages(python: Path) -> bool:
    probe = [str(python), "-c", "import tqdm, pydantic"]
    return python.exists() and subprocess.run(probe, capture_output=True).returncode != 0


needs_bare_python = pytest.mark.skipif(
    not lacks_project_packages(SYSTEM_PYTHON),
    reason=f"needs a {SYSTEM_PYTHON} without the project's packages",
)


@needs_bare_python
def test_stage_without_the_project_interpreter_stops_with_one_line(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "stages", tmp_path / "stages")  # no .venv beside it
    result = subprocess.run(
        [str(SYSTEM_PYTHON), "-m", "stages.report"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "lacks this project's packages" in line and "source .venv/bin/activate" in line, line


@needs_bare_python
@pytest.mark.parametrize("venv_in", ["checkout", "dvc_root"])
def test_stage_without_the_project_interpreter_reruns_with_the_venv(tmp_path: Path, venv_in: str) -> None:
    """The .venv beside the code (a checkout, a suite's links), or in DVC_ROOT (a `--temp` copy)."""
    checkout, workspace = tmp_path / "copy", tmp_path / "workspace"
    for name in ("stages", "pipeline"):
        shutil.copytree(ROOT / name, checkout / name)
    (checkout if venv_in == "checkout" else workspace).mkdir(exist_ok=True)
    (checkout if venv_in == "checkout" else workspace).joinpath(".venv").symlink_to(ROOT / ".venv")
    env = {**os.environ, "DVC_ROOT": str(workspace)}
    env.pop("PIPELINE_REEXEC", None)
    result = subprocess.run(
        [str(SYSTEM_PYTHON), "-m", "stages.backfill", "--help"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:") and result.stderr == ""


def test_figures_in_a_staged_directory_are_logged_under_its_final_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="pipeline"), storage.atomic_dir(tmp_path / "plots") as staging:
        for name in ("a.png", "b.png"):
            with figures.figure(staging / name) as (_, ax):
                ax.plot([0, 1])
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert info == [f"wrote {tmp_path / 'plots' / name}" for name in ("a.png", "b.png")]


# --- e2e: one project trained while tracking is down ---------------------------------------------


def stage_env(tracking_uri: str, bin_dir: Path, **extra: str) -> dict[str, str]:
    """`python` is the system interpreter; TensorFlow's log level left to the project."""
    env = {**subprocess_env(), "MLFLOW_TRACKING_URI": tracking_uri}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    for name in ("TF_CPP_MIN_LOG_LEVEL", "PIPELINE_MLFLOW_REQUIRED", "PIPELINE_REEXEC"):
        env.pop(name, None)
    env.update(extra)
    return env


DVC = str(Path(sys.executable).with_name("dvc"))


def shrink(params: dict) -> None:
    shrink_params(params, EXPERIMENTS, epochs=1)
    params["mlflow"]["experiment_prefix"] = "outage-"  # its own registered model on the shared server


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not lacks_project_packages(SYSTEM_PYTHON):
        pytest.skip(f"needs a {SYSTEM_PYTHON} without the project's packages")
    root = tmp_path_factory.mktemp("outage")
    project = make_project(root / "project", shrink)
    (project / ".venv").symlink_to(ROOT / ".venv")  # git-ignored, as in a real checkout
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(SYSTEM_PYTHON)
    down = f"http://127.0.0.1:{free_port()}"  # nobody listens: connections are refused at once
    result = run([DVC, "repro"], project, check=False, env=stage_env(down, bin_dir))
    return {"project": project, "bin": bin_dir, "down": down, "repro": result}


@pytest.mark.e2e
def test_a_run_without_tracking_reads_cleanly(outage: dict) -> None:
    result, project = outage["repro"], outage["project"]
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert [noise for noise in LOG_NOISE if noise in log] == [], log
    warnings = [line for line in log.splitlines() if "MLflow tracking at" in line]
    assert len(warnings) == 4 and all("Connection refused" in line for line in warnings), warnings
    for name in EXPERIMENTS:
        assert storage.read_json(project / "results" / name / "run.json")["status"] == "unavailable"


@pytest.mark.e2e
def test_the_leaderboard_marks_untracked_experiments(outage: dict) -> None:
    text = (outage["project"] / "reports" / "leaderboard.md").read_text()
    assert text.count("| untracked |") == 2 and "`make backfill`" in text


@pytest.mark.e2e
def test_backfill_logs_complete_runs_and_leaves_dvc_up_to_date(outage: dict, mlflow_server: str) -> None:
    from mlflow import MlflowClient

    project = outage["project"]
    env = stage_env(mlflow_server, outage["bin"])
    params_file = project / "params.yaml"
    params = params_file.read_text()
    params_file.write_text(params.replace("gamma: scale", "gamma: auto"))  # train@iris-svc out of date
    refused = run([sys.executable, "-m", "stages.backfill"], project, check=False, env=env)
    assert refused.returncode == 2 and "train@iris-svc changed since they ran" in refused.stderr
    assert storage.read_json(project / "results" / "iris-dnn" / "run.json")["run_id"] is None
    params_file.write_text(params)
    still_down = stage_env(outage["down"], outage["bin"])
    refused = run([sys.executable, "-m", "stages.backfill"], project, check=False, env=still_down)
    assert refused.returncode == 2 and "nothing back-filled" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert storage.read_json(project / "results" / "iris-dnn" / "run.json")["run_id"] is None
    run([sys.executable, "-m", "stages.backfill"], project, env=env)
    client = MlflowClient(tracking_uri=mlflow_server)
    for name in EXPERIMENTS:
        record = storage.read_json(project / "results" / name / "run.json")
        assert record["status"] == "logged"
        assert storage.read_json(project / "results" / name / "details.json")["tracking"] == record
        logged = client.get_run(record["run_id"])
        assert logged.info.run_name == name and logged.info.status == "FINISHED"
        tags = logged.data.tags
        assert tags["pipeline.backfilled"] == "true" and tags["dvc.stages"] == f"train@{name},evaluate@{name}"
        assert {"git.commit", "pipeline.group", "device", "version.mlflow"} <= set(tags)
        assert logged.data.params["experiment"] == name
        assert {"test_accuracy", "fit_seconds"} <= set(logged.data.metrics)
        assert logged.inputs.dataset_inputs, "the data set is recorded"
        models = client.search_logged_models(
            experiment_ids=[logged.info.experiment_id], filter_string=f"source_run_id = '{record['run_id']}'"
        )
        assert len(models) == 1
    assert client.get_metric_history(
        storage.read_json(project / "results/iris-dnn/run.json")["run_id"], "loss"
    )

    status = json.loads(run([DVC, "status", "--json"], project, env=env).stdout)
    assert set(status) == {"report", "promote"}, status  # train@ / evaluate@ committed by the back-fill
    repro = run([DVC, "repro"], project, env=env)
    ran = [line for line in repro.stdout.splitlines() if line.startswith("Running stage")]
    assert ran == ["Running stage 'report':", "Running stage 'promote':"], repro.stdout
    assert "untracked" not in (project / "reports" / "leaderboard.md").read_text()
    assert storage.read_json(project / "reports" / "promotion.json")["iris"]["promoted"] is True
    assert json.loads(run([DVC, "status", "--json"], project, env=env).stdout) == {}


@pytest.mark.e2e
def test_required_tracking_down_fails_names_the_variable_and_checkout_restores(outage: dict) -> None:
    project = outage["project"]
    env = stage_env(outage["down"], outage["bin"], PIPELINE_MLFLOW_REQUIRED="true")
    failed = run([DVC, "repro", "--force", "--single-item", "train@iris-svc"], project, check=False, env=env)
    log = failed.stdout + failed.stderr
    assert failed.returncode == 255, log  # DVC's code for a failed stage; the stage itself exits 2
    assert "failed to reproduce 'train@iris-svc'" in log and "Traceback" not in log
    assert "unset PIPELINE_MLFLOW_REQUIRED" in log and "mlflow.required: false" not in log
    assert not (project / "models" / "iris-svc").exists()  # DVC removed the outputs before the stage ran
    run([DVC, "checkout", "train@iris-svc"], project, env=env)
    assert (project / "models" / "iris-svc").is_dir()
    assert json.loads(run([DVC, "status", "--json"], project, env=env).stdout) == {}


@pytest.mark.e2e
def test_required_retrain_checks_tracking_before_dvc_deletes_anything(outage: dict) -> None:
    project = outage["project"]
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["models"]["sklearn"]["svc"]["hyperparameters"]["C"] = 3.0  # train@iris-svc would re-run
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = storage.sha256_file(project / "results" / "iris-svc" / "train.json")
    env = stage_env(outage["down"], outage["bin"])
    command = [sys.executable, "-m", "pipeline.workflow.retrain", "--require-mlflow", "--no-push"]
    result = run(command, project, check=False, env=env)
    log = result.stdout + result.stderr
    assert result.returncode == 2, log
    assert "is unavailable (ConnectionError: cannot connect: Connection refused)" in log
    assert "Running stage" not in log and "Traceback" not in log
    assert storage.sha256_file(project / "results" / "iris-svc" / "train.json") == before
    assert (project / "models" / "iris-svc").is_dir()
