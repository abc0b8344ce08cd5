"""pipeline.tracking against real MLflow stores: SQLite, a fresh store raced by 4 processes, a down
server, and a live `mlflow server` over HTTP."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipeline.backends.sklearn.baselines import flatten
from pipeline.config import Experiment, Mlflow, Train
from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri
from pipeline.tracking import runs, store
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def make_experiment(
    name: str = "toy-logreg", *, family: str = "sklearn", required: bool = False, timeout_seconds: float = 5.0
) -> Experiment:
    model = (
        {"family": "sklearn", "estimator": "logistic_regression"}
        if family == "sklearn"
        else {"family": "dnn", "hidden_units": [8]}
    )
    fields = {
        "name": name,
        "seed": 0,
        "dataset": "toy",
        "dataset_config": {"source": "sklearn", "name": "iris"},
        "backend": "sklearn" if family == "sklearn" else "keras",
        "model_name": name.split("-")[-1],
        "model": model,
        "train": Train(epochs=2, batch_size=16),
        "mlflow": Mlflow(experiment_prefix="test-", required=required, timeout_seconds=timeout_seconds),
    }
    return Experiment.model_validate({k: v for k, v in fields.items() if k in Experiment.model_fields})


def toy_data() -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(n_samples=64, n_features=8, random_state=0)
    return x.reshape(64, 4, 2).astype(np.float32), y.astype(np.int64)


def client_for(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def sqlite_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for variable in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        monkeypatch.delenv(variable, raising=False)
    return uri


# --- (1) a run on SQLite ---------------------------------------------------------------------


def test_run_logs_everything_and_evaluate_resumes_it(sqlite_uri: str) -> None:
    import mlflow

    x, y = toy_data()
    model = Pipeline([("flatten", FunctionTransformer(flatten)), ("clf", LogisticRegression())]).fit(x, y)
    experiment = make_experiment()
    history = [{"epoch": epoch, "loss": 1.0 / epoch, "val_loss": 1.5 / epoch} for epoch in (1, 2, 3)]

    with runs.run(experiment, stage="train") as run:
        run.log_params({"model": {"estimator": "logistic_regression", "hidden": [1, 2]}, "seed": 0})
        run.log_history(history)
        run.log_model(model, flavor="sklearn", input_example=x[:5])
        run.log_dataset("toy", "f" * 64, "data/processed/toy", {"input_shape": [4, 2]})
    record = run.record()
    assert record["status"] == "logged", record
    assert record["experiment_name"] == "test-toy"
    assert record["tracking_uri"] == sqlite_uri and record["error"] is None

    with runs.run(experiment, stage="evaluate", run_id=record["run_id"]) as resumed:
        resumed.log_metrics({"test": {"accuracy": 0.9, "f1 (macro)": 0.7}, "val": {"accuracy": 0.8}})
    assert resumed.record()["run_id"] == record["run_id"]

    client = client_for(sqlite_uri)
    logged = client.get_run(record["run_id"])
    assert logged.info.status == "FINISHED" and logged.info.run_name == "toy-logreg"
    assert logged.data.params["model.estimator"] == "logistic_regression"
    assert logged.data.params["model.hidden"] == "[1, 2]"
    assert logged.data.metrics["test_accuracy"] == 0.9 and logged.data.metrics["val_accuracy"] == 0.8
    assert logged.data.metrics["test_f1 _macro_"] == 0.7  # characters MLflow refuses become _
    for key in ("loss", "val_loss"):
        points = client.get_metric_history(record["run_id"], key)
        assert sorted((p.step, p.value) for p in points) == [(row["epoch"], row[key]) for row in history]

    tags = logged.data.tags
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert tags["git.commit"] == (head or "unknown") == tags["pipeline.group"]
    assert tags["git.dirty"] in ("true", "false", "unknown")
    assert tags["dvc.stage"] == "train" and tags["dvc.stages"] == "train,evaluate"
    assert (tags["pipeline.backend"], tags["pipeline.family"]) == ("sklearn", "sklearn")
    assert tags["version.mlflow"] == mlflow.__version__
    assert {"version.python", "version.scikit-learn", "version.keras", "version.tensorflow"} <= set(tags)
    assert tags["tracking.uri"] == sqlite_uri
    assert tags["mlflow.source.name"] == "train"  # the UI's Source column
    assert tags["mlflow.source.git.commit"] == tags["git.commit"]

    experiment_entity = client.get_experiment(record["experiment_id"])
    assert experiment_entity.tags["mlflow.experimentKind"] == "custom_model_development"
    assert len(client.search_runs([record["experiment_id"]])) == 1  # evaluate added to train's run

    (dataset_input,) = logged.inputs.dataset_inputs
    assert dataset_input.dataset.digest == "f" * 36 and dataset_input.dataset.name == "toy"
    assert {t.key: t.value for t in dataset_input.tags}["pipeline.data_hash"] == "f" * 64

    loaded = mlflow.pyfunc.load_model(f"runs:/{record['run_id']}/model")
    assert loaded.metadata.flavors["sklearn"]["serialization_format"] == "skops"
    np.testing.assert_array_equal(np.asarray(loaded.predict(x)), model.predict(x))


def test_run_fails_on_exception_and_tags_the_dvc_experiment(
    sqlite_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DVC_EXP_NAME", "sweep-point-1")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "0123abcd")
    with pytest.raises(RuntimeError, match="boom"), runs.run(make_experiment(), stage="train") as run:
        raise RuntimeError("boom")
    logged = client_for(sqlite_uri).get_run(run.run_id)
    assert logged.info.status == "FAILED"
    assert logged.data.tags["dvc.exp_name"] == "sweep-point-1" == logged.data.tags["pipeline.group"]
    assert logged.data.tags["dvc.exp_baseline_rev"] == "0123abcd"


def test_a_run_lasts_the_work_of_its_stages_not_the_wait_between_them(sqlite_uri: str) -> None:
    """train@ ends its run; evaluate@ runs at the end of the DAG: the gap is not part of the duration."""
    experiment = make_experiment()
    with runs.run(experiment, stage="train") as run:
        time.sleep(0.3)
    time.sleep(3)  # the rest of the DAG
    with runs.run(experiment, stage="evaluate", run_id=run.run_id):
        time.sleep(0.3)
    info = client_for(sqlite_uri).get_run(run.run_id).info
    assert info.status == "FINISHED"
    assert 600 <= info.end_time - info.start_time < 2500


def test_the_log_names_a_link_that_opens_the_training_view(sqlite_uri: str, caplog) -> None:
    with (
        caplog.at_level(logging.INFO, logger="pipeline.tracking"),
        runs.run(make_experiment(), stage="train") as run,
    ):
        pass
    (line,) = [r.getMessage() for r in caplog.records if run.run_id in r.getMessage()]
    assert f"mlflow ui --backend-store-uri {sqlite_uri}" in line
    assert f"/#/experiments/{run.experiment_id}/runs/{run.run_id}?workflowType=machine_learning" in line


def test_a_run_whose_stage_was_sigkilled_is_marked_killed_by_the_next_stage(sqlite_uri: str) -> None:
    """SIGKILL leaves a run RUNNING; the experiment's next run on this host finds its process gone."""
    script = textwrap.dedent(
        """
        import os, signal
        from pipeline.tracking import runs
        from tests.test_tracking import make_experiment
        with runs.run(make_experiment(), stage="train") as run:
            print(run.run_id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": sqlite_uri}
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    run_id = killed.stdout.split()[0]
    client = client_for(sqlite_uri)
    assert client.get_run(run_id).info.status == "RUNNING"
    with runs.run(make_experiment(), stage="train"):
        pass
    assert client.get_run(run_id).info.status == "KILLED"


def test_a_sweep_points_run_is_named_after_the_point_and_its_changed_params(
    sqlite_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `dvc exp run -S models.sklearn.logreg.hyperparameters.C=10.0` gives the stage: the point's
    name and its baseline commit; the run says which point it is."""
    from pipeline import config

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["init", "-q"], ["add", "params.yaml"], ["commit", "-qm", "baseline"]):
        subprocess.run([*git, *command], cwd=tmp_path, check=True)
    baseline = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True)
    params["models"]["sklearn"]["logreg"]["hyperparameters"]["C"] = 10.0
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_EXP_NAME", "fazed-bump")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", baseline.stdout.strip())

    experiment = config.experiment(config.load(), "digits-logreg")
    with runs.run(experiment, stage="train@digits-logreg") as run:
        pass
    logged = client_for(sqlite_uri).get_run(run.run_id)
    assert logged.info.run_name == "digits-logreg fazed-bump C=10.0"
    assert logged.data.tags["pipeline.changed_params"] == "model.hyperparameters.C=10.0"


def test_a_failure_during_the_run_warns_and_the_stage_goes_on(
    sqlite_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    with runs.run(make_experiment(), stage="train") as run:
        run.log_params({"seed": 0})
    with caplog.at_level(logging.WARNING, logger="pipeline.tracking"):
        with runs.run(make_experiment(), stage="evaluate", run_id=run.run_id) as resumed:
            resumed.log_params({"seed": 1})  # MLflow refuses to change a logged param
            resumed.log_metrics({"accuracy": 1.0})  # now a no-op
        assert resumed.record()["status"] == "unavailable" and "log_params" in resumed.record()["error"]
    assert len([r for r in caplog.records if r.name.startswith("pipeline.tracking")]) == 1

    strict_experiment = make_experiment(required=True)  # a required tracker stops the stage
    with (
        pytest.raises(PipelineError, match="log_params failed"),
        runs.run(strict_experiment, stage="evaluate", run_id=run.run_id) as strict,
    ):
        strict.log_params({"seed": 2})


# --- (2) many processes on one fresh store ---------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import mlflow.store.tracking.sqlalchemy_store  # imports done before the barrier: race the store
    import mlflow.store.model_registry.sqlalchemy_store
    from pipeline.tracking import runs
    from pipeline.config import Experiment, Mlflow, Train

    index, n, barrier = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    fields = dict(
        name=f"toy-{index}", seed=0, dataset="toy", backend="sklearn", model_name="logreg",
        dataset_config={"source": "sklearn", "name": "iris"},
        model={"family": "sklearn", "estimator": "logistic_regression"}, train=Train(),
        mlflow=Mlflow(experiment_prefix="race-", required=True),
    )
    experiment = Experiment.model_validate({k: v for k, v in fields.items() if k in Experiment.model_fields})
    (barrier / f"ready-{index}").touch()
    while len(list(barrier.glob("ready-*"))) < n:
        time.sleep(0.005)
    with runs.run(experiment, stage="train") as run:
        run.log_metrics({"index": index})
    print(json.dumps(run.record()))
    """
)


def test_processes_racing_on_a_fresh_sqlite_store_all_log(tmp_path: Path) -> None:
    n = 4
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(ROOT)}
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(index), str(n), str(barrier)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(n)
    ]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
        assert "database is locked" not in err
        assert json.loads(out.strip().splitlines()[-1])["status"] == "logged"
    client = client_for(uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "race-toy"]
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.metrics["index"] for r in runs) == list(range(n))
    assert {r.info.status for r in runs} == {"FINISHED"}


# --- (3) an unreachable server ---------------------------------------------------------------


def test_a_down_server_is_detected_in_seconds(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    uri = f"http://alice:s3cret@127.0.0.1:{free_port()}"  # nothing listens there
    masked = f"http://alice:***@127.0.0.1:{uri.rsplit(':', 1)[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    start = time.perf_counter()
    with (
        caplog.at_level(logging.WARNING, logger="pipeline.tracking"),
        runs.run(make_experiment(), stage="train") as run,
    ):
        run.log_params({"seed": 0})
        run.log_history([{"epoch": 1, "loss": 0.5}])
        run.log_metrics({"test": {"accuracy": 0.5}})
        run.log_model(object(), flavor="sklearn", input_example=np.zeros((1, 2)))
    elapsed = time.perf_counter() - start
    assert elapsed < 15, f"detection took {elapsed:.1f} s"
    record = run.record()
    assert record["status"] == "unavailable" and record["run_id"] is None and record["error"]
    assert record["tracking_uri"] == masked and "s3cret" not in json.dumps(record)
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("pipeline.tracking")]
    assert len(warnings) == 1 and masked in warnings[0] and "s3cret" not in warnings[0]

    with (
        pytest.raises(PipelineError, match=r"mlflow\.required: false") as raised,
        runs.run(make_experiment(required=True), stage="train"),
    ):
        pass
    assert masked in str(raised.value) and "s3cret" not in str(raised.value)


def test_a_server_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{silent.getsockname()[1]}")
        start = time.perf_counter()
        with runs.run(make_experiment(timeout_seconds=1.0), stage="train") as run:
            pass
        assert time.perf_counter() - start < 6
    assert run.record()["status"] == "unavailable"


# --- (4) a live `mlflow server` ----------------------------------------------------------------


@pytest.mark.e2e
def test_keras_run_over_http(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    keras = pytest.importorskip("keras")
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    keras.utils.set_random_seed(0)
    x, y = make_classification(n_samples=64, n_features=4, n_informative=3, n_redundant=0, random_state=0)
    x = x.astype(np.float32)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fitted = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0).history
    rows = [
        {"epoch": epoch + 1, **{key: values[epoch] for key, values in fitted.items()}} for epoch in range(2)
    ]

    with runs.run(make_experiment("toy-dnn", family="dnn"), stage="train") as run:
        run.log_params({"model": {"family": "dnn", "hidden_units": [8]}})
        run.log_history(rows)
        run.log_model(model, flavor="keras", input_example=x[:4])
    record = run.record()
    assert record["status"] == "logged", record
    route = f"experiments/{record['experiment_id']}/runs/{record['run_id']}"
    assert record["url"] == f"{mlflow_server}/#/{route}?workflowType=machine_learning"  # training view

    client = client_for(mlflow_server)
    logged = client.get_run(record["run_id"])
    assert logged.data.params["model.hidden_units"] == "[8]"
    for key in ("loss", "val_loss", "accuracy"):
        points = sorted(client.get_metric_history(record["run_id"], key), key=lambda p: p.step)
        assert [p.step for p in points] == [1, 2]  # one point per epoch, step = epoch
        assert [p.value for p in points] == pytest.approx([row[key] for row in rows])
    loaded = mlflow.pyfunc.load_model(f"runs:/{record['run_id']}/model")
    np.testing.assert_allclose(
        np.asarray(loaded.predict(x)), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


# --- (5) URIs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("http://bob:hunter2@mlflow.example:5000", "http://bob:***@mlflow.example:5000"),
        ("http://bob:p@ss@host:5000/x", "http://bob:***@host:5000/x"),  # a raw @ in the password
        ("https://bob:p%40ss@host/path?x=1", "https://bob:***@host/path?x=1"),
        ("postgresql://user:secret@db:5432/mlflow", "postgresql://user:***@db:5432/mlflow"),
        ("http://host:5000?token=abc&x=1", "http://host:5000?token=***&x=1"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////work/mlflow.db", "sqlite:////work/mlflow.db"),
    ],
)
def test_mask_uri_hides_passwords(uri: str, masked: str) -> None:
    assert mask_uri(uri) == masked


def test_tracking_uri_honours_env_dvc_root_and_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "workspace"))
    assert store.tracking_uri() == f"sqlite:///{(tmp_path / 'workspace').resolve()}/mlflow.db"

    monkeypatch.delenv("DVC_ROOT")
    (tmp_path / "repo" / ".dvc").mkdir(parents=True)
    (tmp_path / "repo" / "stages").mkdir()
    monkeypatch.chdir(tmp_path / "repo" / "stages")
    assert store.tracking_uri() == f"sqlite:///{(tmp_path / 'repo').resolve()}/mlflow.db"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert store.tracking_uri() == "http://127.0.0.1:5000"


def test_importing_tracking_does_not_import_mlflow() -> None:
    """Not one of its modules: the stages and `dvc status` pay for mlflow only when they track."""
    code = (
        "import importlib, pkgutil, sys, pipeline.tracking as t\n"
        "for module in pkgutil.iter_modules(t.__path__, 'pipeline.tracking.'):\n"
        "    importlib.import_module(module.name)\n"
        "sys.exit('mlflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
