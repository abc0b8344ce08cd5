"""The download stage's fetching: mirrors, retries, checksums, atomic placement."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.core.errors import PipelineError
from pipeline.datasets import download, idx, sources
from pipeline.datasets.sources import idx_files as idx_source

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)


def idx_config(files: dict, mirror: str | None, package: str | None = None) -> config.IdxSource:
    return config.IdxSource(source="idx", files=files, mirror=mirror, mirror_package=package)


def test_fetch_from_http_mirror_verifies_and_decompresses(http_server, idx_files, tmp_path):
    base, served, server = http_server
    directory, files = idx_files
    for path in directory.iterdir():
        (served / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "raw"
    sources.fetch_raw("tiny", idx_config(files, base), out)
    images = idx.read_idx(out / "train_images.idx")
    assert images.shape == (60, 6, 6)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"{r}.idx" for r in idx_source.ROLES), "meta.json"]
    )


def test_server_error_is_retried(http_server, idx_files, tmp_path):
    base, served, server = http_server
    directory, files = idx_files
    name = Path(files["train_labels"]["url"]).name
    (served / name).write_bytes((directory / name).read_bytes())
    server.failures[f"/{name}"] = 2
    dest = tmp_path / "labels.idx"
    download.fetch(files["train_labels"]["url"], files["train_labels"]["sha256"], dest, mirror=base)
    assert dest.exists() and server.failures[f"/{name}"] == 0


def test_corrupt_file_fails_cleanly_and_writes_nothing(http_server, idx_files, tmp_path):
    base, served, _ = http_server
    directory, files = idx_files
    name = Path(files["test_images"]["url"]).name
    payload = bytearray(gzip.decompress((directory / name).read_bytes()))
    payload[100] ^= 0xFF
    (served / name).write_bytes(gzip.compress(bytes(payload)))
    dest_dir = tmp_path / "out"
    dest_dir.mkdir()
    with pytest.raises(
        download.ChecksumError, match=f"{name}.*expected sha256 {files['test_images']['sha256']}"
    ):
        download.fetch(
            files["test_images"]["url"], files["test_images"]["sha256"], dest_dir / "x.idx", mirror=base
        )
    assert list(dest_dir.iterdir()) == []


def test_truncated_gzip_is_a_checksum_error(http_server, idx_files, tmp_path):
    base, served, _ = http_server
    directory, files = idx_files
    name = Path(files["train_images"]["url"]).name
    (served / name).write_bytes((directory / name).read_bytes()[:50])
    with pytest.raises(download.ChecksumError, match="unreadable"):
        download.fetch(
            files["train_images"]["url"], files["train_images"]["sha256"], tmp_path / "x.idx", mirror=base
        )


def test_gzip_crc_error_is_a_corrupt_copy_not_a_changed_source(http_server, idx_files, tmp_path):
    base, served, _ = http_server
    directory, files = idx_files
    name = Path(files["train_labels"]["url"]).name
    damaged = bytearray((directory / name).read_bytes())
    damaged[-8] ^= 0xFF  # the gzip trailer's CRC32: the payload itself is intact
    (served / name).write_bytes(bytes(damaged))
    with pytest.raises(download.ChecksumError) as raised:
        download.fetch(
            files["train_labels"]["url"], files["train_labels"]["sha256"], tmp_path / "x.idx", mirror=base
        )
    message = str(raised.value)
    assert f"{name} from {base}/{name} is a corrupt or truncated gzip file" in message
    assert "pinned hash" not in message and "fetch a fresh copy" in message
    assert not (tmp_path / "x.idx").exists()


@pytest.mark.parametrize("as_url", [False, True], ids=["directory", "file-url"])
def test_local_mirror(idx_files, tmp_path, as_url):
    directory, files = idx_files
    mirror = directory.as_uri() if as_url else str(directory)
    sources.fetch_raw("tiny", idx_config(files, mirror), tmp_path / "raw")
    assert idx.read_idx(tmp_path / "raw" / "test_labels.idx").shape == (20,)


def test_environment_variable_overrides_mirror(idx_files, tmp_path, monkeypatch):
    directory, files = idx_files
    monkeypatch.setenv("PIPELINE_MIRROR_TINY", str(directory))
    sources.fetch_raw("tiny", idx_config(files, "/does/not/exist"), tmp_path / "raw")
    assert (tmp_path / "raw" / "train_images.idx").exists()


def test_missing_mirror_directory_names_the_package(idx_files, tmp_path):
    _, files = idx_files
    with pytest.raises(
        PipelineError, match="does not exist.*apt-get install dataset-tiny.*PIPELINE_MIRROR_TINY"
    ):
        sources.fetch_raw("tiny", idx_config(files, str(tmp_path / "nope"), "dataset-tiny"), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_offline_without_mirror_names_the_mirror_option(idx_files, tmp_path):
    _, files = idx_files  # canonical URLs point at a closed port on 127.0.0.1
    with pytest.raises(PipelineError, match="(?s)could not fetch.*datasets.tiny.mirror"):
        sources.fetch_raw("tiny", idx_config(files, None), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_unsupported_mirror_scheme_is_refused(idx_files, tmp_path):
    _, files = idx_files
    with pytest.raises(PipelineError, match="only a directory, file:// or http"):
        sources.fetch_raw("tiny", idx_config(files, "ftp://example.org/data"), tmp_path / "raw")


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_debian_fashion_mnist_loads_with_pinned_hashes(tmp_path):
    params = config.load(Path(__file__).resolve().parents[1] / "fashion" / "params.yaml")
    cfg = params.datasets["fashion_mnist"]
    sources.fetch_raw("fashion_mnist", cfg.model_copy(update={"mirror": str(FASHION_DIR)}), tmp_path / "raw")
    train = idx.read_idx(tmp_path / "raw" / "train_images.idx")
    test_labels = idx.read_idx(tmp_path / "raw" / "test_labels.idx")
    assert train.shape == (60000, 28, 28)
    assert test_labels.shape == (10000,)
    assert np.bincount(test_labels).tolist() == [1000] * 10
