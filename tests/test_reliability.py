"""Faults, for real: malformed params (property-based), SIGKILLed training and writers, downloads cut
off mid-body, a tracking server that dies mid-run, and two copies of a stage running at once."""

from __future__ import annotations

import ast
import contextlib
import copy
import csv
import http.server
import json
import logging
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import config
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download, idx, processed, sources
from pipeline.datasets.sources import idx_files as idx_source
from pipeline.models import training
from pipeline.tracking import runs
from stages import cli
from stages import download as download_stage
from stages import evaluate as evaluate_stage
from stages import preprocess as preprocess_stage
from stages import promote as promote_stage
from stages import report as report_stage
from stages import train as train_stage
from tests.conftest import free_port, in_process, make_project, run, subprocess_env, write_idx_set

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def tree_digest(root: Path) -> dict[str, str | None]:
    """Every path under `root`, hidden ones included: files by content hash, directories as None."""
    return {
        str(path.relative_to(root)): storage.sha256_file(path) if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def popen(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A process in its own session, so os.killpg reaches it and every child it started."""
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env or subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen) -> str:
    """SIGKILL the process and its children; return what it printed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    out, _ = process.communicate(timeout=60)
    return out or ""


def wait_for(
    condition: Callable[[], Any], process: subprocess.Popen | None, timeout: float, what: str
) -> Any:
    """Poll `condition` every 10 ms until it is truthy; fail if `process` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process ended before {what}:\n{process.communicate()[0][-3000:]}")
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --- (1) malformed params: one message naming the key, exit 2, nothing written -----------------

# keys whose value is one of a closed set of names (free-form ones like `estimator` are checked by train)
NAME_KEYS = {
    "source", "name", "family", "backend", "dataset", "model", "mixed_precision", "jit_compile", "strategy",
}  # fmt: skip
OUT_OF_RANGE = {
    "epochs": [0, -1, -30],
    "batch_size": [0, -8],
    "window": [0, -12],
    "kernel_size": [0, -3],
    "pool_size": [0],
    "hidden_units": [0, -10],
    "units": [0, -32],
    "filters": [0, -16],
    "dense_units": [0],
    "dropout_rate": [1, 1.5, -0.1],
    "val_size": [0, 1, 1.5, -0.2],
    "test_size": [0, 1, 2.5, -0.5],
    "learning_rate": [0, -0.001],
    "timeout_seconds": [0, -5],
    "seed": [-1, -42],
    "early_stopping_patience": [-1],
    "reduce_lr_patience": [-2],
    "margin": [-0.5],
}
WRONG_TYPES = [{"nested": 1}, [None, "x"]]  # no scalar or list-of-numbers field takes these
NOT_A_NUMBER = ["many", "1e-3x", "", "NaN-ish"]


def walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of every node below `node`, leaving out free-form `hyperparameters`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "hyperparameters":
                continue
            yield (*path, key), value
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*path, index), value
            yield from walk(value, (*path, index))


def named_key(path: tuple) -> str:
    """The last string key of a path: what the message must name (a list item's list)."""
    return next(str(part) for part in reversed(path) if isinstance(part, str))


def candidate_mutations(params: dict) -> list[tuple[str, tuple, Any]]:
    """(kind, path, value) edits that the schema must refuse, whatever else is in the file."""
    found: list[tuple[str, tuple, Any]] = []
    for path, value in walk(params):
        key = named_key(path)
        if isinstance(value, dict):
            found.append(("unknown key", (*path, "bogus_key"), {"nested": [None]}))
            found.append(("wrong type", path, 7))
            continue
        found.extend(("wrong type", path, wrong) for wrong in WRONG_TYPES)
        if isinstance(value, bool):
            found.append(("wrong type", path, "maybe"))
        elif isinstance(value, int | float):
            found.extend(("wrong type", path, text) for text in NOT_A_NUMBER)
            found.extend(("out of range", path, bad) for bad in OUT_OF_RANGE.get(key, []))
        elif isinstance(value, str) and key in NAME_KEYS and path[-1] == key:
            found.append(("unknown name", path, "no_such_name"))
    found.append(("unknown key", ("bogus_section",), {"a": 1}))
    used_datasets = {spec["dataset"] for spec in params["experiments"].values()}
    used_models = {(spec["backend"], spec["model"]) for spec in params["experiments"].values()}
    found.append(("deleted", ("datasets",), None))
    for name, dataset in params["datasets"].items():
        found.append(("deleted", ("datasets", name, "source"), None))
        if "name" in dataset:
            found.append(("deleted", ("datasets", name, "name"), None))
        if name in used_datasets:
            found.append(("deleted", ("datasets", name), None))
    for backend, entries in params["models"].items():
        for name, model in entries.items():
            found.append(("deleted", ("models", backend, name, "family"), None))
            if "estimator" in model:
                found.append(("deleted", ("models", backend, name, "estimator"), None))
            if (backend, name) in used_models:
                found.append(("deleted", ("models", backend, name), None))
    for name in params["experiments"]:
        found.extend(("deleted", ("experiments", name, key), None) for key in ("dataset", "backend", "model"))
    return found


def apply(params: dict, kind: str, path: tuple, value: Any) -> bool:
    """Apply one edit in place; False if an earlier edit removed its place."""
    node = params
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(node, dict | list):
        return False
    if kind == "deleted":
        if isinstance(node, dict) and path[-1] in node:
            del node[path[-1]]
            return True
        return False
    node[path[-1]] = value
    return True


MUTATIONS = candidate_mutations(PARAMS)
NOT_YAML = ["- a\n- list\n", "42\n", "seed: [unclosed\n", "\tseed: 1\n", "", "seed: 'unterminated\n"]
STAGES = [  # every stage, in DAG order; each must stop before doing anything
    (download_stage.main, ["iris"]),
    (preprocess_stage.main, ["iris"]),
    (train_stage.main, ["iris-dnn"]),
    (evaluate_stage.main, ["iris-dnn"]),
    (report_stage.main, []),
    (promote_stage.main, []),
]


@pytest.fixture(scope="module")
def raw_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory holding iris' raw data, as after `dvc repro download@iris`."""
    root = tmp_path_factory.mktemp("raw-project")
    params = config.load(ROOT / "params.yaml")
    sources.fetch_raw("iris", params.datasets["iris"], root / cli.raw_dir("iris"))
    return root


def check_stages_refuse(project: Path, params_file: Path, named: Callable[[str], bool]) -> None:
    """Every stage exits 2 with one error message that `named` accepts; the project is untouched."""
    before = tree_digest(project)
    with contextlib.chdir(project):
        for main, argv in STAGES:
            code, errors = in_process(main, [*argv, "--params", str(params_file)])
            assert code == 2, f"{main.__module__} exited {code}"
            assert len(errors) == 1, [r.getMessage() for r in errors]
            message = errors[0].getMessage()
            assert str(params_file) in message and named(message), message
    assert tree_digest(project) == before


def names(message: str, path: tuple, value: Any, kind: str) -> bool:
    """The message names the edited key and, for a bad scalar, the value itself."""
    if not re.search(rf"(?<![\w-]){re.escape(named_key(path))}(?![\w-])", message):
        return False
    if kind == "deleted" or isinstance(value, dict | list):
        return True
    return f"(got {value!r})" in message or (isinstance(value, str) and repr(value) in message)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3))
def test_malformed_params_stop_every_stage_before_any_work(raw_project: Path, edits: list) -> None:
    params = copy.deepcopy(PARAMS)
    applied = [(kind, path, value) for kind, path, value in edits if apply(params, kind, path, value)]
    params_file = write_params(raw_project / "params.yaml", params)
    if len(applied) == 1:  # one edit: its key and value are named
        check_stages_refuse(
            raw_project, params_file, lambda message: names(message, *applied[0][1:], applied[0][0])
        )
    else:  # several: pydantic reports field errors first, so at least one key is named
        keys = [named_key(path) for _, path, _ in applied]
        check_stages_refuse(raw_project, params_file, lambda message: any(key in message for key in keys))


@pytest.mark.parametrize("text", NOT_YAML)
def test_params_that_are_not_a_mapping_stop_every_stage(raw_project: Path, text: str) -> None:
    params_file = raw_project / "params.yaml"
    params_file.write_text(text)
    check_stages_refuse(
        raw_project, params_file, lambda m: "not valid YAML" in m or "must hold a mapping" in m
    )


def test_params_that_are_not_text_stop_every_stage(raw_project: Path) -> None:
    params_file = raw_project / "params.yaml"
    params_file.write_bytes(b"seed: \xff\xfe\x00 42\n")
    check_stages_refuse(raw_project, params_file, lambda m: "UTF-8" in m or "utf-8" in m)


def test_malformed_params_in_a_real_process_print_no_traceback(raw_project: Path, tmp_path: Path) -> None:
    params = copy.deepcopy(PARAMS)
    params["models"]["keras"]["dnn"]["dropout_rate"] = 1.5
    params["train"]["keras"]["optimizer"]["name"] = "adamw9"
    params_file = write_params(tmp_path / "bad.yaml", params)
    before = tree_digest(raw_project)
    result = run(
        [sys.executable, "-m", "stages.preprocess", "iris", "--params", str(params_file)],
        raw_project,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.count(" ERROR ") == 1
    assert "models.keras.dnn.dropout_rate: Input should be less than 1 (got 1.5)" in result.stderr
    assert "optimizer.name: Input should be 'adam', 'sgd', 'rmsprop'" in result.stderr
    assert "(got 'adamw9')" in result.stderr
    assert tree_digest(raw_project) == before


@pytest.mark.e2e
def test_bad_override_through_dvc_exp_run_stops_before_any_stage(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", shrink_to_iris_dnn)
    result = run(["dvc", "exp", "run", "-S", "train.keras.epochs=0"], project, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "train.keras.epochs: Input should be greater than 0 (got 0)" in output
    assert "Traceback" not in output
    for output_dir in ("data", "models", "results", "checkpoints", "reports"):  # DVC may make empty parents
        assert [p for p in (project / output_dir).rglob("*") if not p.is_dir()] == [], output_dir


# --- models paired with data they cannot take: refused before TensorFlow is imported -----------

PAIRINGS = {
    "iris-cnn": ({"dataset": "iris", "backend": "keras", "model": "cnn"}, "cnn needs image data"),
    "iris-lstm": ({"dataset": "iris", "backend": "keras", "model": "lstm"}, "lstm needs image or sequence"),
    "iris-ridge": ({"dataset": "iris", "backend": "sklearn", "model": "ridge"}, "'ridge' is a regressor"),
    "sunspots-logreg": (
        {"dataset": "sunspots", "backend": "sklearn", "model": "logreg"},
        "'logistic_regression' is a classifier",
    ),
}
TRAIN_AND_REPORT_TF = textwrap.dedent(
    """
    import runpy, sys
    sys.argv = ["stages.train", *sys.argv[1:]]
    try:
        runpy.run_module("stages.train", run_name="__main__")
    finally:
        print("tensorflow imported" if "tensorflow" in sys.modules else "tensorflow not imported",
              file=sys.stderr)
    """
)


@pytest.fixture(scope="module")
def processed_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris and sunspots downloaded and preprocessed; params with the impossible pairings."""
    root = tmp_path_factory.mktemp("processed-project")
    params = copy.deepcopy(PARAMS)
    params["experiments"].update({name: spec for name, (spec, _) in PAIRINGS.items()})
    write_params(root / "params.yaml", params)
    with contextlib.chdir(root):
        for dataset in ("iris", "sunspots"):
            for main in (download_stage.main, preprocess_stage.main):
                assert in_process(main, [dataset])[0] == 0
    return root


@pytest.mark.parametrize("experiment", sorted(PAIRINGS))
def test_impossible_pairing_stops_train_before_tensorflow(processed_project: Path, experiment: str) -> None:
    before = tree_digest(processed_project)
    result = run([sys.executable, "-c", TRAIN_AND_REPORT_TF, experiment], processed_project, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert PAIRINGS[experiment][1] in result.stderr
    assert f"with dataset '{PAIRINGS[experiment][0]['dataset']}'" in result.stderr
    assert result.stderr.strip().endswith("tensorflow not imported")
    assert tree_digest(processed_project) == before


# --- (2) training SIGKILLed mid-epoch resumes; a concurrent copy shares nothing ----------------

EPOCHS = 30


def shrink_to_iris_dnn(params: dict) -> None:
    """Only iris and its Keras DNN: 30 epochs of batch 8, nothing that stops or slows it early."""
    params["datasets"] = {"iris": params["datasets"]["iris"]}
    params["models"] = {"sklearn": {}, "keras": {"iris_dnn": params["models"]["keras"]["iris_dnn"]}}
    train = {"epochs": EPOCHS, "batch_size": 8, "early_stopping_patience": 0}
    params["experiments"] = {
        "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn", "train": train}
    }
    params["train"]["keras"]["reduce_lr_patience"] = 0  # its state is not in the backup


def backed_up_epochs(project: Path) -> int:
    """The last epoch Keras' BackupAndRestore has saved under checkpoints/ (0 if none yet)."""
    for metadata in (project / "checkpoints").glob("iris-dnn/*/keras/training_metadata.json"):
        with contextlib.suppress(OSError, ValueError):
            return int(json.loads(metadata.read_text())["epoch"])
    return 0


def last_epoch(project: Path) -> dict[str, float]:
    """The final row of results/iris-dnn/history.csv, after checking it holds every epoch once."""
    with (project / "results" / "iris-dnn" / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == list(range(1, EPOCHS + 1))
    return {key: float(value) for key, value in rows[-1].items()}


@pytest.mark.e2e
def test_sigkilled_training_resumes_and_matches_an_uninterrupted_copy(tmp_path: Path) -> None:
    """Two copies train the same experiment at once (one checkpoint fingerprint); one is SIGKILLed
    after its third backed-up epoch. Shared checkpoint or temp paths would make the survivor resume
    from the victim's backup, or delete it under the victim before it resumes."""
    shared_tmp = tmp_path / "tmp"  # one temp dir for both copies: nothing may meet there
    shared_tmp.mkdir()
    env = {
        **subprocess_env(),
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # tracking off (a warning): not what is tested here
        "TMPDIR": str(shared_tmp),
        "DVC_NO_ANALYTICS": "1",
    }
    killed = make_project(tmp_path / "killed", shrink_to_iris_dnn)
    reference = make_project(tmp_path / "reference", shrink_to_iris_dnn)

    uninterrupted = popen(["dvc", "repro", "train@iris-dnn"], reference, env)
    victim = popen(["dvc", "repro", "train@iris-dnn"], killed, env)
    try:
        wait_for(lambda: backed_up_epochs(killed) >= 3, victim, 300, "three backed-up epochs")
    finally:
        log = kill_group(victim)
    assert "epoch 3/30" in log and f"epoch {EPOCHS}/{EPOCHS}" not in log, log[-2000:]
    assert not (killed / "models" / "iris-dnn").exists()  # DVC never took the killed run for done
    assert not (killed / "results" / "iris-dnn" / "train.json").exists()
    reference_log = uninterrupted.communicate(timeout=480)[0]
    assert uninterrupted.returncode == 0, reference_log[-3000:]

    resumed_log = run(["dvc", "repro", "train@iris-dnn"], killed, env=env)
    output = resumed_log.stdout + resumed_log.stderr
    resumed = re.findall(r"resuming from the backup after epoch (\d+)", output)
    assert len(resumed) == 1 and int(resumed[0]) >= 3, output[-3000:]
    assert "resuming" not in reference_log  # it never saw the killed copy's backup
    assert storage.read_json(killed / "results" / "iris-dnn" / "train.json")["resumed_from_epoch"] == int(
        resumed[0]
    )
    assert storage.read_json(reference / "results" / "iris-dnn" / "train.json")["resumed_from_epoch"] == 0
    for copy_ in (killed, reference):
        assert (copy_ / "models" / "iris-dnn" / "model.keras").is_file()
        assert list((copy_ / "checkpoints" / "iris-dnn").iterdir()) == []  # finished: backup removed
    final = {copy_: last_epoch(copy_) for copy_ in (killed, reference)}
    assert abs(final[killed]["val_accuracy"] - final[reference]["val_accuracy"]) <= 0.1, final
    assert abs(final[killed]["val_loss"] - final[reference]["val_loss"]) <= 0.15, final
    assert list(shared_tmp.iterdir()) == []  # no stage left, or shared, anything in the temp dir


def _temp_outside_directory(node: ast.AST) -> bool:
    """A `tempfile.<x>(...)` call that does not pass `dir=` (so lands in the shared /tmp)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "tempfile"):
        return False
    return node.func.attr == "gettempdir" or "dir" not in {keyword.arg for keyword in node.keywords}


def test_checkpoint_and_temp_paths_stay_inside_the_stage_directory(tmp_path: Path) -> None:
    """What makes two `dvc exp` workers independent: every mutable path is relative to the copy."""
    experiment = config.experiment(config.load(ROOT / "params.yaml"), "iris-dnn")
    backup = training.backup_dir_for(cli.CHECKPOINTS_DIR, experiment, "0" * 64)
    assert not backup.is_absolute() and backup.parts[:2] == ("checkpoints", "iris-dnn")
    for directory in (cli.raw_dir("x"), cli.processed_dir("x"), cli.model_dir("x"), cli.results_dir("x")):
        assert not directory.is_absolute()
    with contextlib.chdir(tmp_path):
        with storage.atomic_path(Path("out") / "file.json") as tmp:
            assert tmp.parent.resolve() == (tmp_path / "out").resolve()
        with storage.atomic_dir(Path("out") / "plots") as staging:
            assert staging.parent.resolve() == (tmp_path / "out").resolve()
        with storage.scratch_path(Path("out"), "data.csv") as scratch:
            assert scratch.parent.resolve() == (tmp_path / "out").resolve()

    offenders = []
    for source in sorted([*(ROOT / "pipeline").rglob("*.py"), *(ROOT / "stages").glob("*.py")]):
        for node in ast.walk(ast.parse(source.read_text())):
            where = f"{source.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if _temp_outside_directory(node):
                offenders.append(f"{where}: tempfile.{node.func.attr} outside the output's directory")
            if isinstance(node, ast.Constant) and re.match(r"(/(var/)?tmp(/|$)|~)", str(node.value)):
                offenders.append(f"{where}: fixed path {node.value!r}")
    assert offenders == []


# --- (3) a download cut off mid-body ----------------------------------------------------------


class FlakyState:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cut_off = 0  # this many responses stop half-way through the body
        self.stall = False  # ... and then hang (until `release`) instead of closing the connection
        self.ranges: bool | str = True  # answer Range requests with 206 ("wrong": with other bytes)
        self.release = threading.Event()
        self.half_sent = threading.Event()
        self.requests: list[tuple[str, str | None, int]] = []


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    """Serves files; the first `cut_off` responses send half their body, then close or stall."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state: FlakyState = self.server.state
        path = state.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        asked = self.headers.get("Range")
        start = int(asked.split("=")[1].split("-")[0]) if asked and state.ranges else 0
        if asked and state.ranges == "wrong":  # a broken server: 206, but not the bytes asked for
            start = start // 2
        self.send_response(206 if asked and state.ranges else 200)
        if asked and state.ranges:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        state.requests.append((self.path, asked, start))
        if state.cut_off > 0:
            state.cut_off -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            state.half_sent.set()
            if state.stall:
                state.release.wait(60)
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def flaky_server(tmp_path: Path) -> Iterator[tuple[str, FlakyState]]:
    state = FlakyState(tmp_path / "served")
    state.root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    server.daemon_threads = True
    server.state = state
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def idx_dataset(tmp_path: Path, flaky_server) -> tuple[config.IdxSource, FlakyState]:
    """An IDX data set (train images ~2 MB gzipped) whose mirror is the flaky server."""
    base, state = flaky_server
    files = write_idx_set(state.root, n_train=60_000)
    return config.IdxSource(source="idx", files=files, mirror=base), state


@pytest.fixture(autouse=False)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)


def test_download_cut_off_every_time_fails_and_leaves_nothing(idx_dataset, tmp_path, fast_retries) -> None:
    cfg, state = idx_dataset
    state.cut_off = 1_000
    out = tmp_path / "data" / "raw" / "tiny"
    with pytest.raises(PipelineError, match=r"(?s)could not fetch train-images.*broke off after"):
        sources.fetch_raw("tiny", cfg, out)
    assert list((tmp_path / "data" / "raw").iterdir()) == []  # no partial file, no temp dir

    state.cut_off = 0  # the next run starts clean and verifies
    sources.fetch_raw("tiny", cfg, out)
    assert idx.read_idx(out / "train_images.idx").shape == (60_000, 6, 6)
    assert list((tmp_path / "data" / "raw").iterdir()) == [out]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"{r}.idx" for r in idx_source.ROLES), "meta.json"]
    )


@pytest.mark.parametrize(
    ("ranges", "resumed_at"),
    [(True, "the bytes it had"), (False, "byte 0"), ("wrong", "byte 0")],
    ids=["resumed-with-range", "no-range-support", "wrong-range-answer"],
)
def test_download_cut_off_once_is_fetched_again_and_verified(
    idx_dataset, tmp_path, fast_retries, ranges, resumed_at
) -> None:
    cfg, state = idx_dataset
    state.cut_off, state.ranges = 1, ranges
    dest = tmp_path / "out" / "train_images.idx"
    spec = cfg.files["train_images"]
    download.fetch(spec.url, spec.sha256, dest, mirror=cfg.mirror)
    assert storage.sha256_file(dest) == spec.sha256
    first, again, *rest = state.requests
    assert first[0] == again[0] and again[1] is not None and again[1].startswith("bytes=")
    if resumed_at == "the bytes it had":
        assert again[2] == int(again[1].split("=")[1].rstrip("-")) > 0 and rest == []
    elif ranges == "wrong":  # the answer did not fit: dropped, then everything again without Range
        assert [(path, asked) for path, asked, _ in rest] == [(first[0], None)]
    else:
        assert again[2] == 0 and rest == []
    assert sorted(p.name for p in dest.parent.iterdir()) == ["train_images.idx"]


def test_download_stalled_mid_body_times_out_and_is_fetched_again(idx_dataset, tmp_path, monkeypatch) -> None:
    cfg, state = idx_dataset
    monkeypatch.setattr(download, "TIMEOUT_SECONDS", (2, 0.5))
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)
    state.cut_off, state.stall = 1, True
    spec = cfg.files["train_labels"]
    started = time.monotonic()
    download.fetch(spec.url, spec.sha256, tmp_path / "labels.idx", mirror=cfg.mirror)
    assert time.monotonic() - started < 10
    assert storage.sha256_file(tmp_path / "labels.idx") == spec.sha256


def test_download_stage_killed_mid_body_leaves_no_partial_file(idx_dataset, tmp_path: Path) -> None:
    cfg, state = idx_dataset
    project = tmp_path / "project"
    project.mkdir()
    params = {"datasets": {"tiny": cfg.model_dump(mode="json", exclude_none=True)}}
    write_params(project / "params.yaml", params)
    state.cut_off, state.stall = 1, True

    process = popen([sys.executable, "-m", "stages.download", "tiny"], project)
    try:
        raw = project / "data" / "raw"
        partial = wait_for(
            lambda: [p for p in raw.glob(".tiny.*.tmp/.train_images.idx.*.part") if p.stat().st_size > 0],
            process,
            60,
            "a partly downloaded file",
        )
    finally:
        kill_group(process)
    assert partial[0].exists() and not (raw / "tiny").exists()  # the partial file is not the data set

    state.release.set()
    with contextlib.chdir(project):
        assert in_process(download_stage.main, ["tiny"])[0] == 0  # starts clean, verifies
    assert [p.name for p in raw.iterdir()] == ["tiny"]  # the killed run's staging dir is gone
    for role in idx_source.ROLES:
        assert idx.read_idx(raw / "tiny" / f"{role}.idx").shape[0] in (60_000, 20)


# --- (4) writers killed mid-write: the previous version or nothing, never a truncated file ------

HANGING_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipeline.core import storage

    target, kind = Path(sys.argv[1]), sys.argv[2]
    context = storage.atomic_path(target) if kind == "file" else storage.atomic_dir(target)
    with context as tmp:
        if kind == "file":
            handle = tmp.open("wb")
        else:
            (tmp / "complete.bin").write_bytes(b"c" * 1000)
            handle = (tmp / "partial.bin").open("wb")
        handle.write(b"n" * (4 << 20))
        handle.flush()
        print(tmp, flush=True)
        time.sleep(600)
    """
)


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_writer_killed_mid_write_keeps_the_previous_version(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out" / "result"
    if kind == "file":
        storage.write_text(target, "previous\n" * 1000)
    else:
        with storage.atomic_dir(target) as staging:
            (staging / "previous.txt").write_text("previous\n")
    before = tree_digest(tmp_path / "out")

    writer = popen([sys.executable, "-c", HANGING_WRITER, str(target), kind], ROOT)
    temp = Path(writer.stdout.readline().strip())
    assert temp.exists() and temp.parent == target.parent
    kill_group(writer)
    assert writer.returncode == -signal.SIGKILL
    after = tree_digest(tmp_path / "out")
    assert {k: v for k, v in after.items() if not k.startswith(temp.name)} == before  # previous intact
    assert temp.exists()  # what SIGKILL leaves: a stale temp, never a truncated target

    if kind == "file":
        storage.write_text(target, "next\n")
        assert target.read_text() == "next\n"
    else:
        with storage.atomic_dir(target) as staging:
            (staging / "next.txt").write_text("next\n")
        assert [p.name for p in target.iterdir()] == ["next.txt"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["result"]  # the next writer cleaned up


TERMINATED_STAGE = textwrap.dedent(
    """
    import copy, sys, time
    from pathlib import Path
    import yaml
    from pipeline import config
    from pipeline.tracking import runs
    from pipeline.core import storage
    from stages import cli

    def main(argv):
        params = yaml.safe_load(Path(sys.argv[1]).read_text())
        experiment = config.experiment(config.Params.model_validate(params), "iris-logreg")
        with runs.run(experiment, stage="train@iris-logreg") as run:
            with storage.atomic_path(Path(sys.argv[2])) as tmp:
                tmp.write_bytes(b"half of a model")
                print(run.run_id, tmp, flush=True)
                time.sleep(600)

    cli.run(main)
    """
)


@pytest.mark.e2e
def test_sigterm_unwinds_a_stage_cleanly(tmp_path: Path) -> None:
    """SIGTERM (`kill`, `timeout`, a stopped container) runs the stage's cleanup, unlike SIGKILL."""
    params = copy.deepcopy(PARAMS)
    params["experiments"] = {"iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"}}
    params_file = write_params(tmp_path / "params.yaml", params)
    target = tmp_path / "out" / "model.bin"
    storage.write_text(target, "previous")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**subprocess_env(), "MLFLOW_TRACKING_URI": uri}
    stage = subprocess.Popen(
        [sys.executable, "-c", TERMINATED_STAGE, str(params_file), str(target)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id, temp = stage.stdout.readline().split()
    assert Path(temp).exists()
    stage.send_signal(signal.SIGTERM)
    _, err = stage.communicate(timeout=60)
    assert stage.returncode == 128 + signal.SIGTERM
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert not Path(temp).exists() and target.read_text() == "previous"  # cleaned up, not half-written
    from mlflow import MlflowClient

    assert MlflowClient(tracking_uri=uri).get_run(run_id).info.status == "KILLED"


REWRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from pipeline.core import storage

    out = Path(sys.argv[1])
    version = 0
    while True:
        version += 1
        noise = np.random.default_rng(version).normal(size=100_000)
        storage.save_arrays(out / "arrays.npz", {"x": noise, "version": np.array(version)})
        with storage.atomic_dir(out / "bundle") as staging:
            storage.save_arrays(staging / "a.npz", {"x": noise, "version": np.array(version)})
            manifest = {"version": version, "sha256": storage.sha256_array(noise)}
            storage.write_json(staging / "manifest.json", manifest)
        print(version, flush=True)
    """
)


def test_random_kills_of_a_busy_writer_never_leave_a_torn_file(tmp_path: Path) -> None:
    rng = random.Random(0)
    for trial in range(5):
        writer = popen([sys.executable, "-c", REWRITER, str(tmp_path)], ROOT)
        writer.stdout.readline()  # one complete version exists
        time.sleep(rng.uniform(0.01, 0.3))
        kill_group(writer)
        arrays = storage.load_arrays(tmp_path / "arrays.npz")  # a torn file would fail its CRC or be short
        expected = np.random.default_rng(int(arrays["version"])).normal(size=100_000)
        np.testing.assert_array_equal(arrays["x"], expected)
        if not (tmp_path / "bundle").exists():  # killed between moving the old one aside and the new in
            continue
        manifest = storage.read_json(tmp_path / "bundle" / "manifest.json")
        bundled = storage.load_arrays(tmp_path / "bundle" / "a.npz")
        assert int(bundled["version"]) == manifest["version"], f"trial {trial}: files of two versions"
        assert storage.sha256_array(bundled["x"]) == manifest["sha256"]
    storage.save_arrays(tmp_path / "arrays.npz", {"x": np.zeros(1)})
    with storage.atomic_dir(tmp_path / "bundle") as staging:
        storage.write_json(staging / "manifest.json", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrays.npz", "bundle"]


HALF_WRITING_STAGE = textwrap.dedent(
    """
    import io, runpy, sys, time
    import numpy as np

    original, calls = np.savez_compressed, []

    def half_then_hang(file, *args, **kwargs):  # the second array file is cut off mid-write
        calls.append(1)
        if len(calls) < 2:
            return original(file, *args, **kwargs)
        buffer = io.BytesIO()
        original(buffer, *args, **kwargs)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        file.flush()
        print("HALF-WRITTEN", flush=True)
        time.sleep(600)

    np.savez_compressed = half_then_hang
    sys.argv = ["stages.preprocess", *sys.argv[1:]]
    runpy.run_module("stages.preprocess", run_name="__main__")
    """
)


def test_preprocess_killed_mid_write_keeps_its_previous_output(processed_project: Path) -> None:
    out = processed_project / cli.processed_dir("iris")
    before = tree_digest(out.parent)
    stage = popen([sys.executable, "-c", HALF_WRITING_STAGE, "iris"], processed_project)
    wait_for(lambda: "HALF-WRITTEN" in (stage.stdout.readline() or "EOF"), stage, 60, "the half-written file")
    kill_group(stage)
    stale = [p for p in out.parent.iterdir() if p.name.startswith(".iris.")]
    assert len(stale) == 1 and (stale[0] / "train.npz").is_file()  # the killed write, aside
    assert {k: v for k, v in tree_digest(out.parent).items() if not k.startswith(stale[0].name)} == before
    processed.load(out)  # the previous output, every array matching schema.json

    with contextlib.chdir(processed_project):
        assert in_process(preprocess_stage.main, ["iris"])[0] == 0
    assert tree_digest(out.parent).keys() == before.keys()  # the stale staging dir is gone
    processed.load(out)


# --- (5) the tracking server dies mid-run ------------------------------------------------------


class Outage:
    """A TCP relay in front of a live server that can go down for good, open connections included.

    Stages see the relay's address as the tracking server; `kill()` does to them what a crashed
    server does (connections reset, then refused) without stopping a server other tests share.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.split("//", 1)[1].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream)
            except OSError:
                return
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): no new connections
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                    sock.close()


@pytest.fixture
def restore_mlflow_env() -> Iterator[None]:
    """tracking sets MLFLOW_HTTP_* defaults in os.environ; leave the worker as it was."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.mark.e2e
def test_tracking_server_dying_mid_run_costs_no_output(
    processed_project: Path,
    tmp_path: Path,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    restore_mlflow_env: None,
) -> None:
    outage = Outage(mlflow_server)
    uri, masked = f"http://alice:s3cret@127.0.0.1:{outage.port}", f"http://alice:***@127.0.0.1:{outage.port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    params = copy.deepcopy(PARAMS)
    params["experiments"] = {"iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"}}
    params["mlflow"].update(timeout_seconds=2, experiment_prefix="reliability-")
    params_file = write_params(tmp_path / "params.yaml", params)
    argv = ["iris-logreg", "--params", str(params_file)]
    results = processed_project / cli.results_dir("iris-logreg")

    with contextlib.chdir(processed_project):
        assert in_process(train_stage.main, argv) == (0, [])
    record = storage.read_json(results / "run.json")
    assert record["status"] == "logged" and record["tracking_uri"] == masked
    from mlflow import MlflowClient

    logged = MlflowClient(tracking_uri=mlflow_server).get_run(record["run_id"])
    assert logged.data.tags["tracking.uri"] == masked
    assert "s3cret" not in json.dumps([logged.data.tags, logged.data.params])

    # evaluate resumes the run, then the server goes down while the figures are drawn
    original_assess = evaluate_stage.assessment.assess

    def assess_then_lose_the_server(*args, **kwargs):
        result = original_assess(*args, **kwargs)
        outage.kill()
        return result

    monkeypatch.setattr(evaluate_stage.assessment, "assess", assess_then_lose_the_server)
    with contextlib.chdir(processed_project), caplog.at_level(logging.WARNING, logger="pipeline.tracking"):
        assert in_process(evaluate_stage.main, argv) == (0, [])
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("pipeline.tracking")]
    assert len(warnings) == 1 and masked in warnings[0] and "log_metrics failed" in warnings[0], warnings
    details = storage.read_json(results / "details.json")
    assert details["tracking"]["status"] == "unavailable" and "log_metrics" in details["tracking"]["error"]
    assert set(storage.read_json(results / "metrics.json")) >= {"train", "val", "test"}
    assert (results / "plots" / "confusion.csv").is_file()
    assert "s3cret" not in json.dumps(details)

    # the next stage (a real process) finds it down: one warning naming the masked URI, every output
    for name in ("metrics.json", "details.json"):
        (results / name).unlink()
    command = [sys.executable, "-m", "stages.evaluate", *argv]
    evaluated = run(command, processed_project, env={**subprocess_env(), "MLFLOW_TRACKING_URI": uri})
    lines = [line for line in evaluated.stderr.splitlines() if " WARNING pipeline.tracking" in line]
    assert len(lines) == 1 and masked in lines[0], evaluated.stderr
    assert "s3cret" not in evaluated.stderr and "Traceback" not in evaluated.stderr
    assert storage.read_json(results / "details.json")["tracking"]["status"] == "unavailable"
    assert (results / "metrics.json").is_file()

    # with mlflow.required: true the stages stop with a clear message and change nothing
    params["mlflow"]["required"] = True
    write_params(params_file, params)
    before = tree_digest(processed_project)
    with contextlib.chdir(processed_project):
        for main in (evaluate_stage.main, train_stage.main):
            code, errors = in_process(main, argv)
            assert code == 2 and len(errors) == 1, errors
            message = errors[0].getMessage()
            assert f"MLflow tracking at {masked} is unavailable" in message and "s3cret" not in message
            assert "mlflow.required: false" in message
    assert tree_digest(processed_project) == before


@pytest.mark.e2e
def test_tracking_password_never_reaches_stdout(
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
    restore_mlflow_env: None,
) -> None:

    relay = Outage(mlflow_server)  # a relay only: the URI then carries a password the server ignores
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:s3cret@127.0.0.1:{relay.port}")
    params = copy.deepcopy(PARAMS)
    params["mlflow"]["experiment_prefix"] = "reliability-"
    experiment = config.experiment(config.Params.model_validate(params), "iris-dnn")
    with runs.run(experiment, stage="train@iris-dnn") as tracked:
        tracked.log_params({"seed": 0})
    relay.kill()
    assert tracked.record()["status"] == "logged"
    out, err = capfd.readouterr()
    assert "s3cret" not in out + err


# --- (7) a tracking server nobody answers for: what the user is told ------------------------------


def iris_experiment(required: bool) -> config.Experiment:
    params = copy.deepcopy(PARAMS)
    params["mlflow"]["required"] = required
    return config.experiment(config.Params.model_validate(params), "iris-dnn")


def test_refused_connection_is_named_at_once_not_as_a_timeout(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, restore_mlflow_env: None
) -> None:

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nobody listens
    started = time.monotonic()
    experiment = iris_experiment(required=False)
    with (
        caplog.at_level(logging.WARNING, logger="pipeline.tracking"),
        runs.run(experiment, stage="train@iris-dnn") as tracked,
    ):
        pass
    assert time.monotonic() - started < 3
    assert tracked.record()["status"] == "unavailable"
    [warning] = [r.getMessage() for r in caplog.records if r.name.startswith("pipeline.tracking")]
    assert "Connection refused" in warning and "no answer within" not in warning, warning


@pytest.mark.parametrize("required_by", ["params", "environment"])
def test_required_tracking_hint_names_what_made_it_required(
    monkeypatch: pytest.MonkeyPatch, restore_mlflow_env: None, required_by: str
) -> None:

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv(config.MLFLOW_REQUIRED_ENV, raising=False)
    if required_by == "environment":
        monkeypatch.setenv(config.MLFLOW_REQUIRED_ENV, "true")
    experiment = iris_experiment(required=required_by == "params")
    with pytest.raises(PipelineError) as raised, runs.run(experiment, stage="train@iris-dnn"):
        pass
    message = str(raised.value)
    if required_by == "environment":
        assert f"unset {config.MLFLOW_REQUIRED_ENV}" in message and "mlflow.required" not in message
    else:
        assert "set `mlflow.required: false` in params.yaml" in message
        assert config.MLFLOW_REQUIRED_ENV not in message
