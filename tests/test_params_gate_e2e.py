"""End to end: a malformed params.yaml stops `dvc repro` before any output changes or any run is logged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from pipeline.core import storage
from pipeline.workflow.dvc_log import executed_stages
from tests.conftest import make_project, run, shrink_params

pytestmark = pytest.mark.e2e

OUTPUT_DIRS = ("data", "models", "results", "reports", "fingerprints")
INJECTED = "injected-by-a-name"


def shrink(params: dict) -> None:
    shrink_params(
        params,
        {
            "iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"},
            "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn"},
        },
        epochs=1,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project copy on which `dvc repro` has completed once."""
    root = make_project(tmp_path_factory.mktemp("gate") / "project", shrink)
    run(["dvc", "repro"], root)
    return root


def output_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under the outputs' folders."""
    return {
        path.relative_to(root).as_posix(): storage.sha256_file(path)
        for folder in OUTPUT_DIRS
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def tracked(root: Path) -> tuple[int, int, int]:
    """(runs, registered models, model versions) in the project's MLflow store."""
    with sqlite3.connect(root / "mlflow.db") as db:
        return tuple(
            db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("runs", "registered_models", "model_versions")
        )


def set_key(dotted: str, value):
    def edit(params: dict) -> None:
        *parents, last = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


EDITS = {
    "type": (set_key("train.sklearn.n_jobs", "all"), "train.sklearn.n_jobs"),
    "bool-for-int": (set_key("train.keras.epochs", True), "train.keras.epochs"),
    "infinite": (set_key("train.keras.optimizer.learning_rate", float("inf")), "learning_rate"),
    "hyperparameter-rejected": (
        set_key("models.sklearn.logreg.hyperparameters.C", -1),
        "models.sklearn.logreg",
    ),
    "hyperparameter-typo": (set_key("models.sklearn.logreg.hyperparameters.CC", 1), "models.sklearn.logreg"),
    "estimator-typo": (set_key("models.sklearn.logreg.estimator", "logistc_regression"), "estimator"),
    "unknown-key": (set_key("sede", 1), "sede"),
    "keras-under-sklearn": (set_key("models.sklearn.net", {"family": "dnn"}), "models.sklearn.net"),
    "shell-in-a-name": (
        set_key(
            f"experiments.x;touch {INJECTED}", {"dataset": "iris", "backend": "sklearn", "model": "logreg"}
        ),
        "experiments",
    ),
    "long-prefix": (set_key("mlflow.experiment_prefix", "p" * 10_000), "mlflow.experiment_prefix"),
    "unknown-metric": (set_key("promote.metrics.classification", "bogus_metric"), "bogus_metric"),
    "gate-not-a-map": (set_key("gate", "strict"), "gate"),
}


def repro_with(project: Path, rewrite, *, check: bool = False):
    """`dvc repro` with params.yaml's text passed through `rewrite`; the original text is put back."""
    path = project / "params.yaml"
    original = path.read_text()
    try:
        path.write_text(rewrite(original))
        return run(["dvc", "repro"], project, check=check)
    finally:
        path.write_text(original)


@pytest.mark.parametrize("kind", EDITS)
def test_a_rejected_edit_changes_no_output_and_logs_nothing(project, kind):
    edit, key = EDITS[kind]

    def edited(text: str) -> str:
        params = yaml.safe_load(text)
        edit(params)
        return yaml.safe_dump(params, sort_keys=False)

    before, runs_before = output_hashes(project), tracked(project)
    result = repro_with(project, edited)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert key in output and "Traceback" not in output
    assert output_hashes(project) == before
    assert tracked(project) == runs_before
    assert not (project / INJECTED).exists()


def test_a_yaml_syntax_error_changes_no_output(project):
    before = output_hashes(project)
    result = repro_with(project, lambda text: text.replace("seed: 42", "seed: [42"))
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
    assert output_hashes(project) == before


def test_a_tab_dvc_accepts_is_accepted_and_a_valid_edit_re_runs_nothing_else(project):
    """DVC's YAML rules: a tab after `seed:` is fine; params that stay valid leave fingerprints/ as it was."""
    before = output_hashes(project)
    result = repro_with(project, lambda text: text.replace("seed: 42", "seed:\t42"), check=True)
    assert executed_stages(result.stdout) == ["fingerprint"]
    assert output_hashes(project) == before
    assert executed_stages(run(["dvc", "repro"], project).stdout) == ["fingerprint"]  # the file is back
    assert executed_stages(run(["dvc", "repro"], project).stdout) == []
