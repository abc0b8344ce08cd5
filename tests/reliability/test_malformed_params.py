"""Malformed params (property-based) and impossible model / data pairings: one message naming the key,
exit 2, nothing written, TensorFlow never imported."""

from __future__ import annotations

import contextlib
import copy
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import config
from pipeline.core import paths
from pipeline.datasets import sources
from stages import download as download_stage
from stages import evaluate as evaluate_stage
from stages import preprocess as preprocess_stage
from stages import promote as promote_stage
from stages import report as report_stage
from stages import train as train_stage
from tests.conftest import in_process, make_project, run
from tests.reliability.faults import PAIRINGS, PARAMS, ROOT, shrink_to_iris_dnn, tree_digest, write_params

# --- malformed params: one message naming the key, exit 2, nothing written -----------------

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
    sources.fetch_raw("iris", params.datasets["iris"], root / paths.raw_dir("iris"))
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
