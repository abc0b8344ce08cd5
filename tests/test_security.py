"""No untrusted input is trusted: crafted archives, pickles in arrays, models with foreign types or
code, download schemes, and secrets in the tracking URI."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import stat
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.config import CsvSource, Experiment
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import archives, download, sources
from pipeline.models import persistence
from pipeline.tracking import model_logging, runs
from pipeline.tracking.tags import run_tags

GOOD = {"data/a.txt": b"alpha\n", "data/nested/b.bin": bytes(range(256)), "top.txt": b"top\n"}


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` (files with their bytes, directories as None), relative."""
    return {
        str(path.relative_to(root)): (path.read_bytes() if path.is_file() else None)
        for path in sorted(root.rglob("*"))
    }


# --- archives --------------------------------------------------------------------------------


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"evil\n", link: str = ""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def write_tar(path: Path, bad: tuple | None = None, mode: str = "w") -> Path:
    """A tar with the GOOD files, then (if given) one crafted member."""
    with tarfile.open(path, mode) as tar:
        for name, data in GOOD.items():
            tar.addfile(*tar_member(name, data=data))
        if bad is not None:
            tar.addfile(*tar_member(*bad))
    return path


def zip_member(name: str, mode: int | None = None, data: bytes = b"evil\n") -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: external_attr carries the file type
    if mode is not None:
        info.external_attr = mode << 16
    return info


def write_zip(path: Path, bad: tuple | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in GOOD.items():
            bundle.writestr(name, data)
        if bad is not None:
            name, mode = bad
            bundle.writestr(zip_member(name, mode), b"/etc/passwd" if mode and stat.S_ISLNK(mode) else b"x")
    return path


CRAFTED_TAR = {
    "dotdot": ("../evil", tarfile.REGTYPE),
    "nested-dotdot": ("data/../../evil", tarfile.REGTYPE),
    "absolute": ("/tmp/pipeline-evil", tarfile.REGTYPE),
    "symlink": ("data/link", tarfile.SYMTYPE, b"", "/etc/passwd"),
    "relative-symlink": ("data/up", tarfile.SYMTYPE, b"", "../../outside"),
    "hardlink": ("data/hard", tarfile.LNKTYPE, b"", "top.txt"),
    "char-device": ("data/null", tarfile.CHRTYPE),
    "block-device": ("data/disk", tarfile.BLKTYPE),
    "fifo": ("data/pipe", tarfile.FIFOTYPE),
    "backslash": ("..\\evil", tarfile.REGTYPE),
    "duplicate": ("top.txt", tarfile.REGTYPE),
    "under-a-file": ("top.txt/evil", tarfile.REGTYPE),
}

CRAFTED_ZIP = {
    "dotdot": ("../evil", None),
    "nested-dotdot": ("data/../../evil", None),
    "absolute": ("/tmp/pipeline-evil", None),
    "drive": ("C:/evil", None),
    "backslash": ("..\\evil", None),
    "symlink": ("data/link", stat.S_IFLNK | 0o777),
    "char-device": ("data/null", stat.S_IFCHR | 0o666),
    "fifo": ("data/pipe", stat.S_IFIFO | 0o644),
}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory holding the archive and the target; the target already holds an old version."""
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "old.txt").write_text("previous extraction\n")
    return tmp_path


def assert_refused(archive: Path, workdir: Path, member: str) -> None:
    before = tree(workdir)
    with pytest.raises(PipelineError, match="refusing to extract") as refused:
        archives.safe_extract(archive, workdir / "target")
    assert repr(member) in str(refused.value) or member in str(refused.value)
    assert tree(workdir) == before  # nothing inside the target changed, nothing written beside it
    assert not Path("/tmp/pipeline-evil").exists()


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz"])
@pytest.mark.parametrize("case", sorted(CRAFTED_TAR))
def test_crafted_tar_is_refused(workdir: Path, case: str, suffix: str) -> None:
    bad = CRAFTED_TAR[case]
    archive = write_tar(workdir / f"crafted{suffix}", bad, mode="w:gz" if suffix != ".tar" else "w")
    assert_refused(archive, workdir, bad[0])


@pytest.mark.parametrize("case", sorted(CRAFTED_ZIP))
def test_crafted_zip_is_refused(workdir: Path, case: str) -> None:
    bad = CRAFTED_ZIP[case]
    assert_refused(write_zip(workdir / "crafted.zip", bad), workdir, bad[0])


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".zip"])
def test_good_archive_replaces_the_target_whole(workdir: Path, suffix: str) -> None:
    archive = workdir / f"good{suffix}"
    if suffix == ".zip":
        write_zip(archive)
    else:
        write_tar(archive, mode="w" if suffix == ".tar" else "w:gz")
    files = archives.safe_extract(archive, workdir / "target")
    assert files == sorted(workdir / "target" / name for name in GOOD)
    assert {name: data for name, data in tree(workdir / "target").items() if data is not None} == GOOD
    assert sorted(p.name for p in workdir.iterdir()) == sorted([archive.name, "target"])  # no temp dirs


def test_corrupt_archive_and_unknown_type_leave_the_target(workdir: Path) -> None:
    archive = write_tar(workdir / "good.tar.gz", mode="w:gz")
    payload = archive.read_bytes()
    truncated = workdir / "truncated.tar.gz"
    truncated.write_bytes(payload[: len(payload) // 2])
    before = tree(workdir)
    with pytest.raises(PipelineError, match="not a readable archive"):
        archives.safe_extract(truncated, workdir / "target")
    garbage = workdir / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(PipelineError, match="not a readable archive"):
        archives.safe_extract(garbage, workdir / "target")
    with pytest.raises(PipelineError, match="unsupported archive type"):
        archives.safe_extract(workdir / "data.rar", workdir / "target")
    assert tree(workdir) == {**before, "garbage.zip": garbage.read_bytes()}


def test_size_cap_refuses_a_bomb_before_writing(workdir: Path) -> None:
    archive = workdir / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("zeros.bin", bytes(10_000_000))  # 10 MB of zeros compress to ~10 kB
    before = tree(workdir)
    with pytest.raises(PipelineError, match="exceed 1000000 bytes"):
        archives.safe_extract(archive, workdir / "target", max_bytes=1_000_000)
    assert tree(workdir) == before


# --- arrays: never unpickled -------------------------------------------------------------------


class _Payload:
    """Unpickling this touches a marker file: proof that pickled code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_object_array_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pickle-ran"
    path = tmp_path / "train.npz"
    np.savez(path, x=np.array([_Payload(marker)], dtype=object), y=np.arange(3))
    with pytest.raises(PipelineError, match="pickled Python objects; refusing"):
        storage.load_arrays(path)
    assert not marker.exists()

    raw_pickle = tmp_path / "data.npz"  # a bare pickle under an .npz name
    raw_pickle.write_bytes(__import__("pickle").dumps(_Payload(marker)))
    with pytest.raises(PipelineError, match="pickled"):
        storage.load_arrays(raw_pickle)
    assert not marker.exists()

    with pytest.raises(TypeError, match="dtype object"):  # and the pipeline never writes one
        storage.save_arrays(tmp_path / "out.npz", {"x": np.array([{"a": 1}], dtype=object)})
    assert not (tmp_path / "out.npz").exists()


def test_truncated_or_corrupt_npz_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "train.npz"
    storage.save_arrays(path, {"x": np.random.default_rng(0).normal(size=(500, 20))})
    payload = path.read_bytes()
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(PipelineError, match="not a readable .npz file"):
        storage.load_arrays(path)
    flipped = bytearray(payload)
    flipped[len(payload) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(PipelineError, match="not a readable .npz file.*CRC"):
        storage.load_arrays(path)


# --- models: skops trusts only our types, Keras loads in safe mode -----------------------------


class Foreign:
    """A type outside scikit-learn, NumPy and the pipeline: restoring it could run its code."""

    def __init__(self, marker: str = "") -> None:
        self.marker = marker

    def fit(self, x, y=None):
        return self

    def transform(self, x):
        return x

    def __setstate__(self, state):
        Path(state["marker"]).touch()
        self.__dict__.update(state)


def test_skops_file_with_an_untrusted_builtin_is_refused(tmp_path: Path) -> None:
    import skops.io
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    skops.io.dump(Pipeline([("step", FunctionTransformer(eval))]), tmp_path / "model.skops")
    with pytest.raises(PipelineError, match="builtins.eval.*refusing to load"):
        persistence.load(tmp_path)


def test_skops_file_with_a_foreign_type_is_refused_without_running_it(tmp_path: Path) -> None:
    import skops.io
    from sklearn.pipeline import Pipeline

    marker = tmp_path / "foreign-ran"
    skops.io.dump(Pipeline([("step", Foreign(str(marker)))]), tmp_path / "model.skops")
    with pytest.raises(PipelineError, match=r"test_security\.Foreign.*refusing to load"):
        persistence.load(tmp_path)
    assert not marker.exists()


def test_a_project_function_outside_the_trust_list_is_refused_locally_and_not_trusted_in_mlflow(
    tmp_path: Path,
) -> None:
    import skops.io
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = Pipeline([("step", FunctionTransformer(storage.write_json))])  # pipeline.*, not a model step
    skops.io.dump(model, tmp_path / "model.skops")
    with pytest.raises(PipelineError, match=r"pipeline\.core\.storage\.write_json.*refusing to load"):
        persistence.load(tmp_path)
    logged = model_logging.sklearn_serialization(model)
    assert "pipeline.core.storage.write_json" not in logged.get("skops_trusted_types", [])


def test_keras_model_with_a_lambda_layer_is_refused(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    model.save(tmp_path / persistence.KERAS_FILE)
    with pytest.raises(PipelineError, match="(?i)cannot be loaded safely.*lambda"):
        persistence.load(tmp_path)


# --- downloads: only http(s) and files ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/train-images-idx3-ubyte.gz",
        "sftp://example.org/train.gz",
        "gopher://example.org/train.gz",
        "s3://bucket/train.gz",
        "data:text/plain;base64,aGk=",
        "javascript:alert(1)",
    ],
)
def test_download_refuses_other_schemes(tmp_path: Path, url: str) -> None:
    scheme = url.split(":", 1)[0]
    with pytest.raises(PipelineError, match=f"scheme '{scheme}' is not allowed"):
        download.fetch(url, "0" * 64, tmp_path / "out.idx")
    with pytest.raises(PipelineError, match=f"scheme '{scheme}' is not allowed"):  # as a mirror's file
        download.fetch("http://127.0.0.1:9/train.gz", "0" * 64, tmp_path / "out.idx", mirror=url)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["ftp://example.org/data.csv", "ssh://host/data.csv"])
def test_csv_source_refuses_other_schemes(tmp_path: Path, path: str) -> None:
    cfg = CsvSource(source="csv", path=path, target="y")
    with pytest.raises(PipelineError, match="only a local path or an http"):
        sources.fetch_raw("mine", cfg, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_mirror_password_never_reaches_logs_or_errors(tmp_path: Path, caplog, monkeypatch) -> None:
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)
    mirror = f"http://reader:s3cret@127.0.0.1:{closed_port()}/mirror"
    with caplog.at_level(logging.INFO), pytest.raises(PipelineError, match="could not fetch") as failed:
        download.fetch("http://127.0.0.1:9/train.gz", "0" * 64, tmp_path / "x.idx", mirror=mirror)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "reader:***@127.0.0.1" in str(failed.value) and "reader:***@" in logged
    assert "s3cret" not in str(failed.value) + logged
    assert list(tmp_path.iterdir()) == []


# --- tracking: the URI's password is masked everywhere -------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tiny_experiment(required: bool = False) -> Experiment:
    """One scikit-learn experiment resolved from a minimal params document, as a stage would."""
    params = config.Params.model_validate(
        {
            "datasets": {"toy": {"source": "sklearn", "name": "iris"}},
            "models": {"sklearn": {"logreg": {"family": "sklearn", "estimator": "logistic_regression"}}},
            "experiments": {"toy-logreg": {"dataset": "toy", "backend": "sklearn", "model": "logreg"}},
            "mlflow": {"required": required, "timeout_seconds": 2},
        }
    )
    return config.experiment(params, "toy-logreg")


def test_tracking_password_is_masked_in_tags_record_and_log(monkeypatch, caplog) -> None:
    port = closed_port()
    uri = f"http://alice:s3cret@127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)

    tags = run_tags(tiny_experiment(), "train@toy-logreg", uri)  # what a new run is tagged with
    assert tags["tracking.uri"] == f"http://alice:***@127.0.0.1:{port}"
    assert "s3cret" not in json.dumps(tags)

    with caplog.at_level(logging.WARNING), runs.run(tiny_experiment(), stage="train") as run:
        run.log_params({"seed": 0, "uri_in_a_param": "none"})
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and f"alice:***@127.0.0.1:{port}" in warnings[0]
    assert "s3cret" not in "\n".join(warnings) + json.dumps(run.record())

    with (
        pytest.raises(PipelineError) as required,
        runs.run(tiny_experiment(required=True), stage="train"),
    ):
        pass
    assert "alice:***@" in str(required.value) and "s3cret" not in str(required.value)
    assert os.environ["MLFLOW_TRACKING_URI"] == uri  # masked copies only: the real URI still works
