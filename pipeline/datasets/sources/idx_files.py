"""MNIST-format IDX files (MNIST, Fashion-MNIST): four verified files from a mirror or the canonical URLs.

Raw layout: `train_images.idx`, `train_labels.idx`, `test_images.idx`, `test_labels.idx` (decompressed,
sha256-verified) and `meta.json`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.config import IdxSource
from pipeline.core import storage
from pipeline.datasets import download, idx, raw
from pipeline.datasets.raw import Raw

ROLES = ("train_images", "train_labels", "test_images", "test_labels")


def fetch(name: str, cfg: IdxSource, out: Path) -> None:
    mirror, hint = download.mirror_of(name, cfg)
    for role in ROLES:
        download.fetch_remote(cfg.files[role], out / f"{role}.idx", mirror=mirror, hint=hint)
    storage.write_json(out / "meta.json", {"source": "idx", "task": "classification", "layout": "image"})


def read(name: str, cfg: IdxSource, raw_dir: Path, meta: dict) -> Raw:
    arrays = {role: idx.read_idx(raw_dir / f"{role}.idx") for role in ROLES}
    n_classes = int(arrays["train_labels"].max()) + 1
    names = tuple(cfg.class_names) if cfg.class_names else tuple(str(i) for i in range(n_classes))
    test = (arrays["test_images"][..., np.newaxis], arrays["test_labels"])
    return raw.image_classes(arrays["train_images"][..., np.newaxis], arrays["train_labels"], names, test)
