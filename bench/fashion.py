"""Debian's Fashion-MNIST for the benchmarks: its arrays, and subsample mirrors for the pipeline."""

from __future__ import annotations

import gzip
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bench.commands import BenchError
from pipeline.core import storage
from pipeline.datasets import idx
from pipeline.workflow.project_copy import ROOT

MIRROR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


def require() -> None:
    if not MIRROR.is_dir():
        raise BenchError(
            f"{MIRROR} not found: install Debian's dataset-fashion-mnist "
            "(`sudo apt-get install dataset-fashion-mnist`, or `make fashion`)"
        )


def files() -> dict[str, dict[str, str]]:
    """The `files:` section of fashion/params.yaml (canonical URLs and sha256 of the payloads)."""
    params = yaml.safe_load((ROOT / "fashion" / "params.yaml").read_text())
    return params["datasets"]["fashion_mnist"]["files"]


def read(role: str) -> Any:
    """One of Debian's Fashion-MNIST arrays (train_images, train_labels, test_images, test_labels)."""
    require()
    name = Path(files()[role]["url"]).name
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "payload.idx"
        plain.write_bytes(gzip.decompress((MIRROR / name).read_bytes()))
        return idx.read_idx(plain).copy()


def subsample_mirror(directory: Path, n_train: int, n_test: int) -> dict[str, dict[str, str]]:
    """A mirror of the first `n_train` / `n_test` Fashion-MNIST images; returns the `files:` section for it.

    The pipeline then runs unchanged (download from the mirror, verify, preprocess) on less data.
    """
    directory.mkdir(parents=True, exist_ok=True)
    found = {}
    for role, spec in files().items():
        array = read(role)[: n_train if role.startswith("train") else n_test]
        plain = directory / f"{role}.idx"
        idx.write_idx(plain, array)
        payload = plain.read_bytes()
        plain.unlink()
        (directory / Path(spec["url"]).name).write_bytes(gzip.compress(payload, compresslevel=1))
        found[role] = {"url": spec["url"], "sha256": storage.sha256_bytes(payload)}
    return found


def use_mirror(params: dict, mirror: Path | None, mirror_files: Mapping[str, Any] | None) -> None:
    """Point the Fashion-MNIST data set of a suite's params at a subsample mirror (None: Debian's)."""
    dataset = params["datasets"]["fashion_mnist"]
    if mirror is not None and mirror_files is not None:
        dataset["mirror"] = str(mirror)
        dataset["files"] = dict(mirror_files)
