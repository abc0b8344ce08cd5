"""The `cifar` source kind on tiny archives in the real binary layout, served over HTTP."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download, sources

CANONICAL = "http://127.0.0.1:9/~kriz"  # never reached: the test server is the mirror
CIFAR10_NAMES = [f"class{i}" for i in range(10)]
FINE_NAMES = [f"fine{i}" for i in range(100)]
COARSE_NAMES = [f"coarse{i}" for i in range(20)]


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)


def batch(labels: list[tuple[int, ...]], seed: int) -> tuple[bytes, np.ndarray]:
    """Records for `labels` (label bytes, then the R, G and B planes, each 32x32 row-major) and
    their NHWC images: first R=1 G=2 B=3 everywhere, then R=row G=column B=row+column, then noise."""
    rows, cols = np.indices((32, 32), dtype=np.uint8)
    planes = [np.full((3, 32, 32), [[[1]], [[2]], [[3]]], np.uint8), np.stack([rows, cols, rows + cols])]
    noise = np.random.default_rng(seed).integers(0, 256, (len(labels) - 2, 3, 32, 32), dtype=np.uint8)
    planes = np.concatenate([np.stack(planes), noise])
    data = b"".join(bytes(label) + image.tobytes() for label, image in zip(labels, planes, strict=True))
    return data, planes.transpose(0, 2, 3, 1)


def tar_gz(path: Path, files: dict[str, bytes], extra: tarfile.TarInfo | None = None) -> dict:
    """Write `files` (and a crafted member) as a .tar.gz; the `archive:` params pinning it."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"evil\n") if extra.isreg() else None)
    return {"url": f"{CANONICAL}/{path.name}", "sha256": storage.sha256_file(path)}


def cifar10_files() -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """Five training batches of 10 records (one per class) and a test batch; files and arrays."""
    root = "cifar-10-batches-bin"
    files, x_train, y_train = {}, [], []
    for i in range(1, 6):
        labels = [(c,) for c in range(10)]
        files[f"{root}/data_batch_{i}.bin"], images = batch(labels, seed=i)
        x_train.append(images)
        y_train.extend(range(10))
    test_labels = [(c,) for c in reversed(range(10))]
    files[f"{root}/test_batch.bin"], x_test = batch(test_labels, seed=0)
    files[f"{root}/batches.meta.txt"] = ("\n".join(CIFAR10_NAMES) + "\n\n").encode()
    files[f"{root}/readme.html"] = b"<html></html>\n"
    arrays = {"x_train": np.concatenate(x_train), "y_train": np.array(y_train), "x_test": x_test}
    return files, {**arrays, "y_test": np.arange(10)[::-1]}


def cifar100_files() -> dict[str, bytes]:
    """Train and test batches whose record i has fine label i % 100 and coarse label i % 20."""
    labels = [(i % 20, i % 100) for i in range(300)]
    return {
        "cifar-100-binary/train.bin": batch(labels, seed=1)[0],
        "cifar-100-binary/test.bin": batch(labels[:100], seed=2)[0],
        "cifar-100-binary/fine_label_names.txt": "\n".join(FINE_NAMES).encode(),
        "cifar-100-binary/coarse_label_names.txt": "\n".join(COARSE_NAMES).encode(),
    }


def cifar(name: str, archive: dict, mirror: str, **extra) -> config.CifarSource:
    return config.CifarSource(source="cifar", name=name, archive=archive, mirror=mirror, **extra)


def test_cifar10_pixels_labels_and_names(http_server, tmp_path):
    base, served, _ = http_server
    files, expected = cifar10_files()
    cfg = cifar("cifar10", tar_gz(served / "cifar-10-binary.tar.gz", files), base)
    out = tmp_path / "raw" / "cifar10"
    sources.fetch_raw("cifar10", cfg, out)
    assert sorted(p.name for p in out.iterdir()) == ["data.npz", "meta.json"]  # no archive, no scratch
    assert list(out.parent.iterdir()) == [out]
    raw = sources.read_raw("cifar10", cfg, out)
    assert (raw.task, raw.layout, raw.class_names) == ("classification", "image", tuple(CIFAR10_NAMES))
    assert raw.x.dtype == np.float32 and raw.x.shape == (50, 32, 32, 3)
    np.testing.assert_array_equal(raw.x[0], np.broadcast_to([1, 2, 3], (32, 32, 3)))
    rows, cols = np.indices((32, 32))
    np.testing.assert_array_equal(raw.x[1], np.stack([rows, cols, rows + cols], axis=-1))
    np.testing.assert_array_equal(raw.x, expected["x_train"])
    np.testing.assert_array_equal(raw.y, expected["y_train"])
    x_test, y_test = raw.test
    np.testing.assert_array_equal(x_test, expected["x_test"])
    np.testing.assert_array_equal(y_test, expected["y_test"])
    assert raw.y.dtype == y_test.dtype == np.int64
    assert storage.read_json(out / "meta.json") == {
        "source": "cifar",
        "task": "classification",
        "layout": "image",
        "class_names": CIFAR10_NAMES,
    }


@pytest.mark.parametrize(
    ("label", "names", "modulus"), [("fine", FINE_NAMES, 100), ("coarse", COARSE_NAMES, 20)]
)
def test_cifar100_fine_or_coarse_labels(http_server, tmp_path, label, names, modulus):
    base, served, _ = http_server
    cfg = cifar("cifar100", tar_gz(served / "cifar-100-binary.tar.gz", cifar100_files()), base, label=label)
    sources.fetch_raw("cifar100", cfg, tmp_path / "raw")
    raw = sources.read_raw("cifar100", cfg, tmp_path / "raw")
    assert raw.class_names == tuple(names)
    assert raw.x.shape == (300, 32, 32, 3) and raw.test[0].shape == (100, 32, 32, 3)
    np.testing.assert_array_equal(raw.y, np.arange(300) % modulus)
    np.testing.assert_array_equal(raw.test[1], np.arange(100) % modulus)
    np.testing.assert_array_equal(raw.x[0], np.broadcast_to([1, 2, 3], (32, 32, 3)))


def test_cifar10_has_no_coarse_labels(tmp_path):
    archive = {"url": f"{CANONICAL}/cifar-10-binary.tar.gz", "md5": "0" * 32}
    cfg = cifar("cifar10", archive, None, label="coarse")
    with pytest.raises(PipelineError, match="cifar100 only"):
        sources.fetch_raw("cifar10", cfg, tmp_path / "raw")


def evil_member(kind: str) -> tarfile.TarInfo:
    if kind == "dotdot":
        info = tarfile.TarInfo("cifar-10-batches-bin/../../evil")
        info.size = len(b"evil\n")
        return info
    info = tarfile.TarInfo("cifar-10-batches-bin/evil")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


def assert_nothing_written(tmp_path: Path) -> None:
    assert list((tmp_path / "raw").iterdir()) == []
    assert not [p for p in tmp_path.rglob("*evil*")]


@pytest.mark.parametrize("kind", ["dotdot", "symlink"])
def test_malicious_archive_is_refused_and_nothing_written(http_server, tmp_path, kind):
    base, served, _ = http_server
    files, _ = cifar10_files()
    cfg = cifar("cifar10", tar_gz(served / "cifar-10-binary.tar.gz", files, evil_member(kind)), base)
    with pytest.raises(PipelineError, match="refusing to extract.*evil"):
        sources.fetch_raw("cifar10", cfg, tmp_path / "raw" / "cifar10")
    assert_nothing_written(tmp_path)


def test_truncated_batch_is_refused(http_server, tmp_path):
    base, served, _ = http_server
    files, _ = cifar10_files()
    files["cifar-10-batches-bin/data_batch_2.bin"] = files["cifar-10-batches-bin/data_batch_2.bin"][:-100]
    cfg = cifar("cifar10", tar_gz(served / "cifar-10-binary.tar.gz", files), base)
    with pytest.raises(PipelineError, match="data_batch_2.bin holds 30630 bytes, not a whole number"):
        sources.fetch_raw("cifar10", cfg, tmp_path / "raw" / "cifar10")
    assert_nothing_written(tmp_path)


def test_python_version_archive_is_refused(http_server, tmp_path):
    base, served, _ = http_server
    archive = tar_gz(served / "cifar-10-python.tar.gz", {"cifar-10-batches-py/data_batch_1": b"pickle"})
    with pytest.raises(PipelineError, match="no cifar-10-batches-bin/batches.meta.txt.*binary version"):
        sources.fetch_raw("cifar10", cifar("cifar10", archive, base), tmp_path / "raw" / "cifar10")
    assert_nothing_written(tmp_path)


def test_wrong_digest_is_refused(http_server, tmp_path):
    base, served, _ = http_server
    files, _ = cifar10_files()
    archive = {**tar_gz(served / "cifar-10-binary.tar.gz", files), "sha256": "0" * 64}
    with pytest.raises(download.ChecksumError, match="cifar-10-binary.tar.gz.*expected sha256 0000"):
        sources.fetch_raw("cifar10", cifar("cifar10", archive, base), tmp_path / "raw" / "cifar10")
    assert_nothing_written(tmp_path)
