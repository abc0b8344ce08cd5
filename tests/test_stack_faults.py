"""Faults on the team stack: the MLflow server killed mid-run, PostgreSQL restarted under the server,
the object store down during `dvc push`; and four stages logging to the server at once.

One project copy (iris, tiny experiments, its own MLflow experiment prefix) against the session's
`team_stack`; the tests run in file order and each leaves the stack running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.core import storage
from pipeline.tracking.store import describe_failure
from pipeline.workflow.team_stack import Stack
from tests.conftest import free_port, make_project, run, shrink_params, subprocess_env
from tests.test_tracking import client_for

DVC = str(Path(sys.executable).with_name("dvc"))
PREFIX = "faults-"  # its own MLflow experiment on the session's shared server
SLOW_KERAS = {"dataset": "iris", "backend": "keras", "model": "iris_dnn", "train": {"epochs": 60}}
EXPERIMENTS = {
    "dnn-optional": SLOW_KERAS,
    "dnn-required": SLOW_KERAS,
    **{
        name: {"dataset": "iris", "backend": "sklearn", "model": model}
        for name, model in [
            ("logreg", "logreg"),
            ("forest", "random_forest"),
            ("svc", "svc"),
            ("svc-b", "svc"),
        ]
    },
}
CONCURRENT = ["logreg", "forest", "svc", "svc-b"]
RUN_OPENED = "MLflow run "  # what a stage logs once its run is open on the server
WAIT_SECONDS = 300


def shrink(params: dict) -> None:
    shrink_params(params, EXPERIMENTS, epochs=1)
    params["mlflow"]["experiment_prefix"] = PREFIX


@pytest.fixture(scope="module")
def project(team_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy whose data is prepared; its DVC remote is the stack's bucket."""
    copy = make_project(tmp_path_factory.mktemp("faults") / "project", shrink)
    run([DVC, "repro", "preprocess@iris"], copy, env=stack_env(team_stack))
    team_stack.script("remote", str(team_stack.env_file), cwd=copy)
    return copy


def stack_env(stack: Stack, **extra: str) -> dict[str, str]:
    env = {**subprocess_env(), **stack.env, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PIPELINE_MLFLOW_REQUIRED", None)
    env.update(extra)
    return env


def start_stage(project: Path, experiment: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`python -m stages.train EXPERIMENT` in the background, its output in `log`."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "stages.train", experiment], cwd=project, env=env, stdout=out, stderr=out
        )


def wait_for(condition, what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds:g} s")
        time.sleep(0.2)


def kill_group(stack: Stack, service: str) -> None:
    """SIGKILL the service's process group (scripts/services starts each in its own session)."""
    pid = int((stack.state / service / "pid").read_text())
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), f"{service} to die")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def leftovers(project: Path) -> list[str]:
    """Staging files of atomic writes still lying around (what a half-written output would leave)."""
    return [str(p) for folder in ("models", "results") for p in (project / folder).rglob("*.tmp")]


def logged_in(stack: Stack, monkeypatch: pytest.MonkeyPatch):
    """An MlflowClient on the stack's server with its login."""
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(name, stack.env[name])
    return client_for(stack.tracking_uri)


def test_a_lost_connection_reads_as_one_short_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"http://admin:hunter2hunter2@127.0.0.1:{free_port()}"
    with pytest.raises(Exception) as lost:
        MlflowClient(tracking_uri=uri).get_run("0" * 32)
    assert describe_failure(lost.value, uri) == "ConnectionError: cannot connect: Connection refused"
    assert describe_failure(ValueError(f"bad answer from {uri}"), uri).startswith(
        "ValueError: bad answer from"
    )
    assert "hunter2hunter2" not in describe_failure(ValueError(f"bad answer from {uri}"), uri)


@pytest.mark.e2e
def test_killing_the_server_mid_run_warns_or_fails_and_loses_nothing(
    team_stack: Stack, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = {name: tmp_path / f"{name}.log" for name in ("dnn-optional", "dnn-required")}
    stages = {
        "dnn-optional": start_stage(project, "dnn-optional", stack_env(team_stack), logs["dnn-optional"]),
        "dnn-required": start_stage(
            project,
            "dnn-required",
            stack_env(team_stack, PIPELINE_MLFLOW_REQUIRED="true"),
            logs["dnn-required"],
        ),
    }
    try:
        wait_for(lambda: all(RUN_OPENED in log.read_text() for log in logs.values()), "both runs open")
        assert all(stage.poll() is None for stage in stages.values()), "still training when the server dies"
        kill_group(team_stack, "mlflow")
        codes = {name: stage.wait(WAIT_SECONDS) for name, stage in stages.items()}
    finally:
        for stage in stages.values():
            if stage.poll() is None:
                stage.kill()
    said = {name: log.read_text() for name, log in logs.items()}

    assert codes["dnn-optional"] == 0, said["dnn-optional"]
    warned = [
        line for line in said["dnn-optional"].splitlines() if "the stage goes on without tracking" in line
    ]
    assert len(warned) == 1 and "Traceback" not in said["dnn-optional"], said["dnn-optional"]
    assert "failed: ConnectionError: cannot connect: Connection refused)" in warned[0]
    assert "urllib3" not in said["dnn-optional"], "one warning, not one per retry"
    record = storage.read_json(project / "results" / "dnn-optional" / "run.json")
    assert record["status"] == "unavailable" and record["error"], record
    assert (project / "models" / "dnn-optional").is_dir()
    assert storage.read_json(project / "results" / "dnn-optional" / "train.json")["epochs_run"] == 60

    assert codes["dnn-required"] == 2, said["dnn-required"]
    errors = [line for line in said["dnn-required"].splitlines() if "is unavailable" in line]
    assert len(errors) == 1 and "Traceback" not in said["dnn-required"], said["dnn-required"]
    assert "unset PIPELINE_MLFLOW_REQUIRED" in errors[0] and "cannot connect: Connection refused" in errors[0]
    assert not (project / "results" / "dnn-required" / "run.json").exists(), "no record of a run it lost"
    assert leftovers(project) == []

    team_stack.script("up")
    lost = logged_in(team_stack, monkeypatch).get_run(record["run_id"])
    assert lost.info.run_name == "dnn-optional", "the run opened before the kill is in the store"


@pytest.mark.e2e
def test_the_server_recovers_from_a_postgres_restart(
    team_stack: Stack, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        **subprocess_env(),
        "POSTGRES_STATE_DIR": str(team_stack.state / "postgres"),
        "POSTGRES_USER": "mlflow",
        "POSTGRES_DB": "mlflow",
    }
    postgres = str(Path(__file__).resolve().parents[1] / "scripts" / "postgres")
    run([postgres, "down"], project, env=env)
    run([postgres, "up"], project, env=env)
    train = run([sys.executable, "-m", "stages.train", "logreg"], project, env=stack_env(team_stack))
    record = storage.read_json(project / "results" / "logreg" / "run.json")
    assert record["status"] == "logged", train.stderr
    assert "without tracking" not in train.stderr
    logged = logged_in(team_stack, monkeypatch).get_run(record["run_id"])
    assert logged.info.status == "FINISHED" and logged.data.params["experiment"] == "logreg"


@pytest.mark.e2e
def test_four_stages_log_at_once_without_an_error(
    team_stack: Stack, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = stack_env(team_stack, PIPELINE_MLFLOW_REQUIRED="true")  # any tracking error fails its stage
    logs = {name: tmp_path / f"{name}.log" for name in CONCURRENT}
    stages = {name: start_stage(project, name, env, logs[name]) for name in CONCURRENT}
    codes = {name: stage.wait(WAIT_SECONDS) for name, stage in stages.items()}
    said = {name: log.read_text() for name, log in logs.items()}
    assert codes == dict.fromkeys(CONCURRENT, 0), said
    assert [name for name, text in said.items() if "WARNING" in text or "ERROR" in text] == [], said
    client = logged_in(team_stack, monkeypatch)
    for name in CONCURRENT:
        record = storage.read_json(project / "results" / name / "run.json")
        logged = client.get_run(record["run_id"])
        assert logged.info.status == "FINISHED" and logged.info.run_name == name
        assert logged.data.params["experiment"] == name
        models = client.search_logged_models(
            experiment_ids=[logged.info.experiment_id], filter_string=f"source_run_id = '{record['run_id']}'"
        )
        assert len(models) == 1, name


@pytest.mark.e2e
def test_the_store_down_during_push_fails_clearly_and_a_second_push_completes(
    team_stack: Stack, project: Path
) -> None:
    env = stack_env(team_stack)
    cache = sorted(p for p in (project / ".dvc" / "cache").rglob("*") if p.is_file())
    before = {p: storage.sha256_file(p) for p in cache}
    assert cache, "something to push"

    kill_group(team_stack, "s3")
    failed = run([DVC, "push"], project, check=False, env=env)
    log = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "Traceback" not in log
    assert f'Could not connect to the endpoint URL: "{team_stack.s3_endpoint}/dvc/cache/' in log, log
    assert {p: storage.sha256_file(p) for p in cache} == before, "the local cache is intact"

    team_stack.script("up")
    run([DVC, "push"], project, env=env)
    status = json.loads(run([DVC, "status", "--cloud", "--json"], project, env=env).stdout)
    assert status == {}, status
