"""The whole-file check the `fingerprint` stage runs first: what scikit-learn and Keras would reject later."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from pipeline.core.errors import PipelineError
from pipeline.models import params_check
from stages import fingerprint as fingerprint_stage
from tests.conftest import in_process, run
from tests.test_config import PARAMS_FILES, ROOT


def write(tmp_path: Path, edit) -> Path:
    params = YAML(typ="safe").load((ROOT / "params.yaml").read_bytes())
    edit(params)
    path = tmp_path / "params.yaml"
    YAML(typ="safe").dump(params, path)
    return path


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_params_pass_the_whole_check(path):
    params_check.check(path)


def hyperparameters(model: str, **values):
    return lambda p: p["models"]["sklearn"][model]["hyperparameters"].update(values)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            hyperparameters("logreg", C=-1),
            r"models.sklearn.logreg: .*'C' parameter of LogisticRegression .* Got -1",
        ),
        (hyperparameters("logreg", C="abc"), r"models.sklearn.logreg: .*'C' parameter"),
        (hyperparameters("svc", C=None), r"models.sklearn.svc: .*'C' parameter of SVC"),
        (
            hyperparameters("ridge", alpha={"a": 1}),
            r"models.sklearn.ridge: the 'alpha' parameter of Ridge takes no",
        ),
        (hyperparameters("random_forest", n_estimators=0), r"models.sklearn.random_forest: .*'n_estimators'"),
        (
            hyperparameters("random_forest", n_estimators=1e9),
            r"models.sklearn.random_forest: .*'n_estimators'",
        ),
        (hyperparameters("logreg", max_iter=float("inf")), r"models.sklearn.logreg: .*'max_iter'"),
        (hyperparameters("logreg", CC=1), r"models.sklearn.logreg: .*no hyperparameter 'CC'"),
        (hyperparameters("logreg", random_state=1), r"models.sklearn.logreg: .*remove `random_state`"),
        (
            lambda p: p["models"]["sklearn"]["tfidf_chars"].update(hyperparameters={"C": 0}),
            r"models.sklearn.tfidf_chars: .*LinearSVC",
        ),
        (
            lambda p: p["models"]["keras"]["cnn"].update(kernel_size=100),
            r"experiments.digits-cnn: model 'cnn': kernel_size 100 is wider than the 8x8 input",
        ),
        (
            lambda p: p["models"]["keras"]["cnn"].update(pool_size=9),
            r"experiments.digits-cnn: model 'cnn': pool_size 9 is wider",
        ),
        (
            lambda p: p["models"]["keras"]["text_conv1d"].update(kernel_size=81),
            r"experiments.fortunes-conv1d: model 'text_conv1d': kernel_size 81 is wider than the 80 input",
        ),
        (
            lambda p: p["experiments"]["iris-dnn"].update(model="cnn"),
            r"experiments.iris-dnn: .*cnn needs image data",
        ),
        (
            lambda p: p["experiments"].update(x={"dataset": "iris", "backend": "sklearn", "model": "ridge"}),
            r"experiments.x: .*'ridge' is a regressor",
        ),
        (
            lambda p: p["models"]["sklearn"]["hog_svc"]["features"].update(pixels_per_cell=8),
            r"experiments.digits-hog_svc: .*do not fit a 8x8 image",
        ),
    ],
    ids=[
        "negative-C",
        "string-C",
        "null-C",
        "mapping-alpha",
        "no-trees",
        "float-trees",
        "infinite-max-iter",
        "unknown-hyperparameter",
        "random-state",
        "tfidf-estimator",
        "kernel-wider-than-image",
        "pool-wider-than-image",
        "kernel-longer-than-text",
        "model-for-other-data",
        "regressor-for-classes",
        "hog-wider-than-image",
    ],
)
def test_what_the_libraries_reject_is_named(tmp_path, edit, message):
    with pytest.raises(PipelineError, match=message):
        params_check.check(write(tmp_path, edit))


def test_any_other_exception_becomes_one_message():
    def explode() -> None:
        raise RuntimeError("boom")

    with pytest.raises(PipelineError, match=r"^models.sklearn.x: RuntimeError: boom$"):
        params_check._named("models.sklearn.x", explode)


def test_the_stage_checks_params_before_writing_and_keeps_its_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("datasets: {}\n")
    assert in_process(fingerprint_stage.main, ["report"]) == (0, [])
    written = (tmp_path / "fingerprints" / "report.txt").read_bytes()
    (tmp_path / "params.yaml").write_text("datasets: {}\nsede: 1\n")
    code, records = in_process(fingerprint_stage.main, ["report"])
    assert code == 2 and [r.getMessage() for r in records] == [
        "params.yaml has invalid params:\n  sede: Extra inputs are not permitted (got 1)"
    ]
    assert (tmp_path / "fingerprints" / "report.txt").read_bytes() == written


def test_the_stage_remembers_built_keras_models_in_the_workspace_dvc_names(tmp_path, monkeypatch):
    """A queued experiment runs in a copy without checkpoints/: DVC_ROOT names the workspace."""
    (tmp_path / "copy").mkdir()
    write(tmp_path / "copy", lambda p: p.update(experiments={"iris-dnn": p["experiments"]["iris-dnn"]}))
    monkeypatch.chdir(tmp_path / "copy")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "workspace"))
    assert in_process(fingerprint_stage.main, ["report"]) == (0, [])
    assert len((tmp_path / "workspace/checkpoints/keras-models-built.txt").read_text().split()) == 1
    assert not (tmp_path / "copy/checkpoints").exists()


PROBE = """
import sys
from pathlib import Path
from pipeline.models import params_check
params_check.check(Path(sys.argv[1]), Path(sys.argv[2]), "keras code")
print("keras" in sys.modules)
"""


def imports_keras(params: Path, built: Path) -> bool:
    result = run([sys.executable, "-c", PROBE, str(params), str(built)], ROOT)
    return result.stdout.strip().splitlines()[-1] == "True"


def test_keras_models_that_built_are_not_built_again_until_they_change(tmp_path):
    params, built = write(tmp_path, lambda p: None), tmp_path / "built.txt"
    assert imports_keras(params, built)
    n_keras = sum(
        spec["backend"] == "keras" for spec in YAML(typ="safe").load(params)["experiments"].values()
    )
    assert len(built.read_text().split()) == n_keras
    assert not imports_keras(
        write(tmp_path, lambda p: p["models"]["sklearn"]["svc"].update(features=None)), built
    )
    assert imports_keras(
        write(tmp_path, lambda p: p["models"]["keras"]["dnn"].update(hidden_units=[8])), built
    )
