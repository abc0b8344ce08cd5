"""Each stage's code dependency is the fingerprint of exactly the project modules it loads.

dvc.yaml lists no module by hand: every stage depends on its file of fingerprints/, which the
`fingerprint` stage writes from the imports read in the source (tests/test_fingerprints.py). Here:
dvc.yaml wires each stage to its own fingerprint, and every stage, run in a fresh process on a Keras
and a scikit-learn experiment, loads no project module its fingerprint leaves out (an edit `dvc repro`
would not notice).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.core import paths
from pipeline.evaluation import scores
from pipeline.workflow.fingerprints import PACKAGES, ImportGraph
from tests.conftest import shrink_params, subprocess_env

ROOT = Path(__file__).resolve().parents[1]


@cache
def pipeline_stages() -> dict[str, dict]:
    """{stage: its dvc.yaml body (the `do` of a foreach)}."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def entry(body: dict) -> str:
    """The stage module `python -m stages.<name>` runs: its name."""
    return re.match(r"python -m stages\.(\w+)", body["cmd"]).group(1)


def fingerprinted_stages() -> list[str]:
    """The stages the `fingerprint` stage's command names."""
    return pipeline_stages()["fingerprint"]["cmd"].split()[3:]


@cache
def graph() -> ImportGraph:
    return ImportGraph()


@cache
def fingerprint_files() -> dict[str, set[str]]:
    """{fingerprint name: the module files it covers} of every stage dvc.yaml fingerprints."""
    return graph().stage_files(fingerprinted_stages())


def test_the_fingerprint_stage_reads_all_code_and_covers_every_other_stage():
    body = pipeline_stages()["fingerprint"]
    assert body["deps"] == ["params.yaml", *PACKAGES, "uv.lock"]  # checks the whole params file first
    assert body["outs"] == [{"fingerprints": {"persist": True}}]  # kept when the check fails
    run = {entry(stage) for name, stage in pipeline_stages().items() if name != "fingerprint"}
    assert set(fingerprinted_stages()) == run


@pytest.mark.parametrize("name", [name for name in pipeline_stages() if name != "fingerprint"])
def test_a_stage_depends_on_its_own_fingerprint_and_lists_no_module(name):
    body = pipeline_stages()[name]
    stage = entry(body)
    names = sorted(graph().stage_modules(stage))  # one per backend when it reaches the backends
    per_item = len(names) > 1 and "${" in body["cmd"]  # a foreach over experiments: its item's backend
    own = (
        [f"fingerprints/{stage}-${{item.backend}}.txt"]
        if per_item
        else [f"fingerprints/{n}.txt" for n in names]
    )
    assert [dep for dep in body["deps"] if dep.split("/")[0] in (*PACKAGES, "fingerprints")] == own


def declared_outputs(stage: str, key: str) -> set[str]:
    """The paths a stage of dvc.yaml writes (outs, metrics, plots) with `${key}` set to `key`."""
    body = pipeline_stages()[stage]
    entries = [entry for section in ("outs", "metrics", "plots") for entry in body.get(section, [])]
    return {(next(iter(e)) if isinstance(e, dict) else e).replace("${key}", key) for e in entries}


def test_dvc_yaml_outputs_are_where_the_paths_module_says_stages_write():
    def results(*names: str) -> set[Path]:
        return {paths.results_dir("x") / name for name in names}

    expected = {
        "fingerprint": {paths.FINGERPRINTS_DIR},
        "sources": {paths.SOURCES_DIR},
        "download": {paths.raw_dir("x")},
        "validate": {paths.drift_report("x"), paths.drift_plot("x"), paths.reference_dir("x")},
        "preprocess": {paths.processed_dir("x")},
        "train": {paths.model_dir("x"), *results(paths.TRAIN_SUMMARY, paths.RUN_RECORD, paths.HISTORY)},
        "evaluate": {paths.metrics_file("x"), *results(paths.DETAILS, paths.SAMPLES, paths.PLOTS)},
        "report": {paths.LEADERBOARD, paths.LEADERBOARD_PLOT},
        "promote": {paths.PROMOTION},
    }
    declared = {stage: declared_outputs(stage, "x") for stage in pipeline_stages()}
    assert declared == {stage: {str(path) for path in found} for stage, found in expected.items()}


def test_the_confusion_matrix_plot_is_declared_with_the_confusion_template_and_the_csv_columns():
    (plots,) = pipeline_stages()["evaluate"]["plots"]
    columns = list(scores.confusion_rows(np.array([0]), np.array([0]), ["a"]).columns)
    assert plots == {"results/${key}/plots": {"template": "confusion", "x": columns[0], "y": columns[1]}}


def test_the_readme_stage_table_has_a_row_for_every_stage():
    table = (ROOT / "README.md").read_text().split("| stage | reads | writes |", 1)[1].split("\n\n", 1)[0]
    rows = set(re.findall(r"^\| `(\w+)", table, flags=re.MULTILINE))
    assert rows == set(pipeline_stages())


# --- what the stages really load ---------------------------------------------------------------

RUN_STAGE = f"""
import json, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_module(sys.argv[0], run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
ours = [m for n, m in list(sys.modules.items()) if n.split(".")[0] in {set(PACKAGES)}]
print(json.dumps([getattr(m, "__file__", None) for m in ours]))
"""


def run_stage(project: Path, *args: str) -> set[str]:
    """Run `python -m <args>` in a fresh interpreter in `project`; the project files it loaded."""
    env = {**subprocess_env(), "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("DVC_ROOT", None)  # the stages find the temporary project's root (and store) themselves
    done = subprocess.run(
        [sys.executable, "-c", RUN_STAGE, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    return {str(Path(file).relative_to(ROOT)) for file in loaded if file}


@pytest.fixture(scope="module")
def iris_project(tmp_path_factory) -> tuple[Path, dict[str, set[str]]]:
    """iris with a Keras (2 epochs) and a scikit-learn experiment, downloaded and preprocessed; what
    `download` and `preprocess` loaded."""
    project = tmp_path_factory.mktemp("iris")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    experiments = {
        "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn"},
        "iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"},
    }
    shrink_params(params, experiments, epochs=2)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    (project / ".dvc").mkdir()  # the project root: its tracking store goes there
    return project, {
        stage: run_stage(project, f"stages.{stage}", "iris") for stage in ("download", "preprocess")
    }


def unfingerprinted(stage: str, loaded: set[str], backend: str | None = None) -> list[str]:
    """What `stage` loaded that its fingerprint leaves out, though an edit of it could change outputs."""
    files = fingerprint_files()
    names = [f"{stage}-{backend}"] if backend else [n for n in files if n.split("-")[0] == stage]
    covered = set().union(*(files[name] for name in names))
    return sorted(file for file in loaded - covered if graph().matters(ROOT / file))


@pytest.mark.e2e
def test_what_download_and_preprocess_load_is_in_their_fingerprints(iris_project):
    _, loaded = iris_project
    for stage in ("download", "preprocess"):
        missing = unfingerprinted(stage, loaded[stage])
        assert not missing, f"{stage}@iris loaded these, not in its fingerprint: {missing}"


@pytest.mark.e2e
def test_what_train_evaluate_report_and_promote_load_is_in_their_fingerprints(iris_project):
    """One experiment per backend, then the report and promotion over both (one test: they build on
    each other's outputs)."""
    project, _ = iris_project
    for experiment, backend in (("iris-dnn", "keras"), ("iris-logreg", "sklearn")):
        for stage in ("train", "evaluate"):
            missing = unfingerprinted(stage, run_stage(project, f"stages.{stage}", experiment), backend)
            assert not missing, f"{stage}@{experiment} loaded these, not in its fingerprint: {missing}"
    for stage in ("report", "promote"):
        missing = unfingerprinted(stage, run_stage(project, f"stages.{stage}"))
        assert not missing, f"{stage} loaded these, not in its fingerprint: {missing}"
