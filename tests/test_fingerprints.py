"""The `fingerprint` stage: which modules a stage can import, and a fingerprint that changes with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import PipelineError
from pipeline.workflow import fingerprints
from pipeline.workflow.fingerprints import ImportGraph
from pipeline.workflow.project_copy import copy_files
from stages import fingerprint as fingerprint_stage
from tests.conftest import in_process

STAGES = ["download", "preprocess", "train", "evaluate", "report", "promote"]


@pytest.fixture
def code(tmp_path) -> Path:
    """A copy of the project's code, free to edit."""
    copy_files(tmp_path)
    return tmp_path


def test_the_reader_follows_function_level_and_name_based_imports():
    graph = ImportGraph()
    train = graph.imported_files("stages.train", skip=("pipeline.backends.sklearn",))
    assert "pipeline/backends/keras/fit.py" in train  # imported inside a function of training.py
    assert "pipeline/backends/sklearn/fit.py" not in train
    names = graph.imported_names(fingerprints.ROOT / "pipeline/models/training.py")
    assert ("pipeline.backends.keras.fit.fit_keras", True) in names
    assert ("pipeline.models", False) in names
    assert "pipeline/datasets/sources/text.py" in graph.imported_files("stages.download")  # by name


def test_only_docstring_only_modules_are_left_out(code):
    files = ImportGraph(code).imported_files("stages.train")
    assert "pipeline/core/errors.py" in files
    assert "pipeline/__init__.py" not in files  # a docstring only
    assert "pipeline/datasets/__init__.py" not in files  # a docstring only
    init = code / "pipeline/datasets/__init__.py"
    init.write_text(init.read_text() + "CHUNK = 1024\n")
    assert "pipeline/datasets/__init__.py" in ImportGraph(code).imported_files("stages.train")


def test_relative_and_constant_name_imports_are_followed(code):
    (code / "pipeline/decisions/extra.py").write_text("VALUE = 1\n")
    (code / "pipeline/more.py").write_text("VALUE = 2\n")
    report = code / "pipeline/decisions/report.py"
    report.write_text(
        "import importlib\nfrom .extra import VALUE\n\n\ndef more():\n"
        "    return importlib.import_module('pipeline.more')\n" + report.read_text()
    )
    reached = ImportGraph(code).stage_modules("report")["report"]
    assert {"pipeline/decisions/extra.py", "pipeline/more.py"} <= reached


def test_a_folder_without_init_is_no_backend(code):
    (code / "pipeline/backends/old/__pycache__").mkdir(parents=True)
    assert ImportGraph(code).backends() == ["keras", "sklearn"]


def test_a_stage_reaching_a_backend_gets_one_fingerprint_per_backend():
    graph = ImportGraph()
    assert set(graph.stage_modules("train")) == {"train-keras", "train-sklearn"}
    assert set(graph.stage_modules("report")) == {"report"}
    per_backend = graph.stage_modules("evaluate")
    assert not any("backends/sklearn/" in file for file in per_backend["evaluate-keras"])
    assert not any("backends/keras/" in file for file in per_backend["evaluate-sklearn"])


def test_an_import_of_the_other_backend_at_top_level_is_followed(code):
    training = code / "pipeline/models/training.py"
    training.write_text("import pipeline.backends.sklearn.fit\n" + training.read_text())
    keras = ImportGraph(code).stage_modules("train")["train-keras"]
    assert "pipeline/backends/sklearn/fit.py" in keras


def test_an_import_inside_type_checking_is_not_followed(code):
    report = code / "pipeline/decisions/report.py"
    report.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pipeline.tracking\n"
        + report.read_text()
    )
    assert "pipeline/tracking/runs.py" not in ImportGraph(code).stage_modules("report")["report"]


def test_a_fingerprint_changes_exactly_when_a_module_it_covers_does(code):
    fingerprints.write(code / "before", STAGES, root=code)
    builders = code / "pipeline/backends/keras/builders.py"
    builders.write_text(builders.read_text() + "\n# an edit\n")
    fingerprints.write(code / "after", STAGES, root=code)
    changed = {
        path.stem
        for path in (code / "after").iterdir()
        if path.read_text() != (code / "before" / path.name).read_text()
    }
    assert changed == {"train-keras"}  # evaluate loads the saved model: it never builds one
    assert "pipeline/backends/keras/builders.py" in (code / "after/train-keras.txt").read_text()


def test_fingerprints_are_the_same_bytes_every_time(tmp_path):
    first = fingerprints.write(tmp_path / "a", STAGES)
    fingerprints.write(tmp_path / "b", STAGES)
    assert first == sorted(path.stem for path in (tmp_path / "a").iterdir())
    for name in first:
        assert (tmp_path / "a" / f"{name}.txt").read_bytes() == (tmp_path / "b" / f"{name}.txt").read_bytes()


def test_an_unknown_stage_is_one_clear_error_and_writes_nothing(tmp_path):
    with pytest.raises(PipelineError, match="no stage entry point stages/trian.py: name one of"):
        fingerprints.write(tmp_path / "out", ["train", "trian"])
    with pytest.raises(PipelineError, match="no stage entry point stages/cli.py"):
        fingerprints.write(tmp_path / "out", ["cli"])
    assert not (tmp_path / "out").exists()


def test_an_import_by_a_computed_name_outside_a_package_init_is_refused(code):
    (code / "pipeline/decisions/report.py").write_text(
        "import importlib\nNAME = 'io'\nimportlib.import_module(NAME)\n"
    )
    with pytest.raises(
        PipelineError, match="pipeline/decisions/report.py, line 3: imports a module by a computed name"
    ):
        ImportGraph(code).stage_modules("report")


def test_a_syntax_error_is_one_clear_error_naming_file_and_line(code):
    (code / "pipeline/decisions/report.py").write_text('"""Report."""\n\ndef broken(:\n    pass\n')
    with pytest.raises(PipelineError, match=r"pipeline/decisions/report.py, line 3: .*; fix it"):
        ImportGraph(code).stage_modules("report")


def test_the_stage_writes_the_folder_or_reports_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("datasets: {}\n")  # the stage checks the params file first
    written = tmp_path / "fingerprints"
    assert in_process(fingerprint_stage.main, ["report", "promote"]) == (0, [])
    names = ["promote-keras.txt", "promote-sklearn.txt", "report.txt"]  # promote loads either backend's model
    assert sorted(path.name for path in written.iterdir()) == names
    code, records = in_process(fingerprint_stage.main, ["report", "trian"])
    assert code == 2 and records[0].getMessage().startswith("no stage entry point stages/trian.py")
    assert sorted(path.name for path in written.iterdir()) == names  # kept whole


def test_undecodable_source_is_one_clear_error(code):
    (code / "pipeline/decisions/report.py").write_bytes(b"x = 1\x00\n")
    with pytest.raises(PipelineError, match="pipeline/decisions/report.py"):
        ImportGraph(code).stage_modules("report")


def _bump(lock: Path, distribution: str) -> None:
    """Change the version of `distribution` in a uv.lock."""
    text = lock.read_text()
    entry = f'[[package]]\nname = "{distribution}"\nversion = "'
    assert entry in text
    lock.write_text(text.replace(entry, entry + "99.", 1))


def _changed(code: Path, distribution: str) -> set[str]:
    fingerprints.write(code / "before", STAGES, root=code)
    _bump(code / "uv.lock", distribution)
    fingerprints.write(code / "after", STAGES, root=code)
    return {
        path.stem
        for path in (code / "after").iterdir()
        if path.read_text() != (code / "before" / path.name).read_text()
    }


def test_a_tensorflow_bump_changes_only_the_stages_that_import_it(code):
    assert _changed(code, "tensorflow") == {"train-keras"}  # not train-sklearn, not the data stages
    assert "  tensorflow\n" in (code / "after/train-keras.txt").read_text()


def test_a_dependency_of_an_imported_library_counts(code):
    changed = _changed(code, "scikit-learn")
    assert {"train-sklearn", "evaluate-sklearn", "preprocess"} <= changed
    assert "report" not in changed
    lock = fingerprints.Lock(code / "uv.lock")
    assert "keras" in lock.closure(["tensorflow"])  # a keras bump under tensorflow re-runs train-keras
    assert "tensorflow" not in lock.closure(["keras"])


def test_a_broken_lock_file_is_one_clear_error(code):
    (code / "uv.lock").write_text("[[package]\n")
    with pytest.raises(PipelineError, match="cannot read .*uv.lock .*git checkout uv.lock"):
        fingerprints.texts(["report"], root=code)
