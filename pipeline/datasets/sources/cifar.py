"""CIFAR-10 / CIFAR-100 from the canonical binary archive (no pickle): verified, extracted safely and
converted to arrays.

Raw layout: `data.npz` (x_train / x_test uint8 NHWC, y_train / y_test int64) and `meta.json` with the
class names. The archive (fetched and extracted as for `imagefolder`) and its extracted files are
scratch, deleted once converted.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import CifarSource
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download, raw
from pipeline.datasets.raw import Raw

SIDE, CHANNELS = 32, 3
PIXELS = SIDE * SIDE * CHANNELS
MAX_EXTRACTED_BYTES = 256 << 20  # both archives hold ~185 MB


@dataclass(frozen=True)
class Layout:
    """Where one CIFAR variant keeps its batches, and how many label bytes lead each record."""

    directory: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_bytes: int
    labels: dict[str, tuple[str, int]]  # `label` -> (its names file, its byte in a record)


LAYOUTS = {
    "cifar10": Layout(
        directory="cifar-10-batches-bin",
        train=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        test=("test_batch.bin",),
        label_bytes=1,
        labels={"fine": ("batches.meta.txt", 0)},
    ),
    "cifar100": Layout(
        directory="cifar-100-binary",
        train=("train.bin",),
        test=("test.bin",),
        label_bytes=2,
        labels={"coarse": ("coarse_label_names.txt", 0), "fine": ("fine_label_names.txt", 1)},
    ),
}


def fetch(name: str, cfg: CifarSource, out: Path) -> None:
    layout = LAYOUTS[cfg.name]
    if cfg.label not in layout.labels:
        raise PipelineError(f"datasets.{name}.label: {cfg.label!r} labels exist for cifar100 only; remove it")
    with tempfile.TemporaryDirectory(dir=out, prefix=".scratch-") as scratch:
        tree = download.fetch_archive(name, cfg, cfg.archive, Path(scratch), max_bytes=MAX_EXTRACTED_BYTES)
        root = tree / layout.directory
        names_file, index = layout.labels[cfg.label]
        class_names = _names(name, root / names_file)
        x_train, y_train = _records(name, root, layout, layout.train, index, len(class_names))
        x_test, y_test = _records(name, root, layout, layout.test, index, len(class_names))
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    storage.save_arrays(out / "data.npz", arrays)
    meta = {"source": "cifar", "task": "classification", "layout": "image", "class_names": class_names}
    storage.write_json(out / "meta.json", meta)


def _missing(name: str, path: Path) -> PipelineError:
    return PipelineError(
        f"dataset {name!r}: the archive has no {path.parent.name}/{path.name}; datasets.{name}.archive "
        "must be the CIFAR binary version (cifar-10-binary.tar.gz or cifar-100-binary.tar.gz)"
    )


def _names(name: str, path: Path) -> list[str]:
    if not path.is_file():
        raise _missing(name, path)
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _records(name: str, root: Path, layout: Layout, files: tuple[str, ...], index: int, n_classes: int):
    """(images uint8 NHWC, labels int64 from byte `index` of each record) of the batch `files`."""
    record = layout.label_bytes + PIXELS
    images, labels = [], []
    for file in files:
        path = root / file
        if not path.is_file():
            raise _missing(name, path)
        data = np.fromfile(path, dtype=np.uint8)
        if data.size == 0 or data.size % record:
            raise PipelineError(
                f"dataset {name!r}: {layout.directory}/{file} holds {data.size} bytes, not a whole number "
                f"of {record}-byte records; the archive is corrupt: replace the mirror copy or the archive"
            )
        rows = data.reshape(-1, record)
        labels.append(rows[:, index].astype(np.int64))
        planes = rows[:, layout.label_bytes :].reshape(-1, CHANNELS, SIDE, SIDE)  # R, G, B planes
        images.append(planes.transpose(0, 2, 3, 1))
    y = np.concatenate(labels)
    if y.max() >= n_classes:
        raise PipelineError(
            f"dataset {name!r}: label {int(y.max())} in {', '.join(files)} but {n_classes} class names; "
            "the archive is not a CIFAR binary archive"
        )
    return np.ascontiguousarray(np.concatenate(images)), y


def read(name: str, cfg: CifarSource, raw_dir: Path, meta: dict) -> Raw:
    arrays = storage.load_arrays(raw_dir / "data.npz")
    test = (arrays["x_test"], arrays["y_test"])
    return raw.image_classes(arrays["x_train"], arrays["y_train"], tuple(meta["class_names"]), test)
