"""A directory with one sub-directory of images per class: local, or inside a verified archive.

Every file is decoded with Pillow (its decompression-bomb limit left on), turned upright by its EXIF
orientation, converted to `color_mode` and resized to `image_size`. Hidden files and directories are
ignored; other files that do not decode are skipped with a warning and listed in `meta.json`.

Raw layout: `data.npz` (x uint8 NHWC, y int64) and `meta.json` with the class names (the sorted
sub-directory names) and the skipped files. An archive and its extracted files are scratch.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np

from pipeline.config import ImageFolderSource
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download, raw
from pipeline.datasets.raw import Raw

log = logging.getLogger(__name__)

MAX_EXTRACTED_BYTES = 4 << 30
MODES = {"rgb": "RGB", "grayscale": "L"}


class _Skip(Exception):
    """A file that yields no image; the message is the reason."""


def fetch(name: str, cfg: ImageFolderSource, out: Path) -> None:
    if cfg.archive is None:
        x, y, class_names, skipped = _load(name, cfg, Path(cfg.path))
    else:
        with tempfile.TemporaryDirectory(dir=out, prefix=".scratch-") as scratch:
            tree = download.fetch_archive(
                name, cfg, cfg.archive, Path(scratch), max_bytes=MAX_EXTRACTED_BYTES
            )
            x, y, class_names, skipped = _load(name, cfg, _inside(name, tree, cfg.path))
    storage.save_arrays(out / "data.npz", {"x": x, "y": y})
    meta = {
        "source": "imagefolder",
        "task": "classification",
        "layout": "image",
        "class_names": class_names,
        "skipped": skipped,
    }
    storage.write_json(out / "meta.json", meta)
    log.info("%s: %d images in %d classes, %d files skipped", name, len(y), len(class_names), len(skipped))


def _inside(name: str, tree: Path, path: str) -> Path:
    """The directory `path` of the extracted `tree`."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts:
        raise PipelineError(
            f"datasets.{name}.path: {path!r} must be a relative path inside the archive (e.g. flower_photos)"
        )
    if not (tree / relative).is_dir():
        top = ", ".join(sorted(p.name for p in tree.iterdir())) or "nothing"
        raise PipelineError(
            f"datasets.{name}.path: the archive has no directory {path!r}; its top level holds: {top}"
        )
    return tree / relative


def _visible(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if not p.name.startswith("."))


def _load(name: str, cfg: ImageFolderSource, root: Path):
    """(x uint8 NHWC, y int64, class names, skipped files) of the class directories under `root`."""
    if not root.is_dir():
        raise PipelineError(
            f"datasets.{name}.path: {root} is not a directory; give a directory holding one "
            "sub-directory of images per class (or set `archive` to fetch one)"
        )
    classes = [p for p in _visible(root) if p.is_dir()]
    if not classes:
        raise PipelineError(
            f"datasets.{name}.path: {root} has no sub-directories; put each class's images in a "
            "sub-directory named after the class"
        )
    skipped = [_skip(name, root, p, "not in a class directory") for p in _visible(root) if not p.is_dir()]
    images, labels = [], []
    for label, directory in enumerate(classes):
        found = len(images)
        for path in _files(directory):
            try:
                images.append(_decode(path, cfg.image_size, MODES[cfg.color_mode]))
            except _Skip as reason:
                skipped.append(_skip(name, root, path, str(reason)))
                continue
            labels.append(label)
        if len(images) == found:
            raise PipelineError(
                f"dataset {name!r}: class directory {directory} holds no readable images; "
                "add images to it or remove it"
            )
    x = np.stack(images)
    return x, np.asarray(labels, dtype=np.int64), [p.name for p in classes], skipped


def _files(directory: Path) -> list[Path]:
    """The visible files under `directory`, at any depth, sorted."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def _skip(name: str, root: Path, path: Path, reason: str) -> dict[str, str]:
    file = path.relative_to(root).as_posix()
    log.warning("%s: skipping %s (%s)", name, file, reason)
    return {"file": file, "reason": reason}


def _decode(path: Path, size: tuple[int, int], mode: str) -> np.ndarray:
    """The image at `path` as uint8 (height, width, channels), or _Skip saying why not."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    height, width = size
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert(mode)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    except UnidentifiedImageError:
        raise _Skip("not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise _Skip(f"unreadable image: {err}") from None
    return np.asarray(image, dtype=np.uint8).reshape(height, width, -1)


def read(name: str, cfg: ImageFolderSource, raw_dir: Path, meta: dict) -> Raw:
    arrays = storage.load_arrays(raw_dir / "data.npz")
    return raw.image_classes(arrays["x"], arrays["y"], tuple(meta["class_names"]))
