"""Training SIGKILLed mid-epoch resumes; a concurrent copy shares no checkpoint or temp path."""

from __future__ import annotations

import ast
import contextlib
import csv
import json
import re
from pathlib import Path

import pytest

from pipeline import config
from pipeline.core import paths, storage
from pipeline.models import training
from tests.conftest import make_project, run, subprocess_env
from tests.reliability.faults import EPOCHS, ROOT, kill_group, popen, shrink_to_iris_dnn, wait_for

# --- training SIGKILLed mid-epoch resumes; a concurrent copy shares nothing ----------------


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
    backup = training.backup_dir_for(paths.CHECKPOINTS_DIR, experiment, "0" * 64)
    assert not backup.is_absolute() and backup.parts[:2] == ("checkpoints", "iris-dnn")
    for directory in (
        paths.raw_dir("x"),
        paths.processed_dir("x"),
        paths.model_dir("x"),
        paths.results_dir("x"),
    ):
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
