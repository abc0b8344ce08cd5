"""Writers and stages killed mid-write: the previous version or nothing, never a truncated file."""

from __future__ import annotations

import contextlib
import copy
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.core import paths, storage
from pipeline.datasets import processed
from stages import preprocess as preprocess_stage
from tests.conftest import in_process, subprocess_env
from tests.reliability.faults import PARAMS, ROOT, kill_group, popen, tree_digest, wait_for, write_params

# --- writers killed mid-write: the previous version or nothing, never a truncated file ------

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
    out = processed_project / paths.processed_dir("iris")
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
