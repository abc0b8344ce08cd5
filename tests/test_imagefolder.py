"""The `imagefolder` source kind: a folder of digit PNGs (with strays), local or as a served archive."""

from __future__ import annotations

import logging
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import config
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download, sources
from pipeline.datasets.preprocess import preprocess

CLASSES = ("digit0", "digit1", "digit2")
CANONICAL = "http://127.0.0.1:9/images"  # never reached: the test server is the mirror
SKIPPED = ["LICENSE.txt", "digit1/notes.txt", "digit2/broken.png"]


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """3 classes x 10 grey 16x16 PNGs of scikit-learn digits (one saved as RGB, one a level deeper),
    a LICENSE.txt at the top, a note, a hidden file and a truncated PNG; (root, expected images)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path / "digits"
    expected = []
    for label, name in enumerate(CLASSES):
        small = (digits.images[digits.target == label][:10] * 255 / 16).round().astype(np.uint8)
        images = small.repeat(2, axis=1).repeat(2, axis=2)
        for i, pixels in enumerate(images):
            path = root / name / ("nested/" if name == "digit2" and i == 9 else "") / f"{i:02}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            image = Image.fromarray(pixels)
            (image.convert("RGB") if name == "digit0" and i == 0 else image).save(path)
        expected.append(images)
    (root / "LICENSE.txt").write_text("All images licensed under CC-BY.\n")
    (root / "digit1" / "notes.txt").write_text("not a picture\n")
    (root / "digit1" / ".DS_Store").write_bytes(b"\x00\x01")
    whole = (root / "digit2" / "00.png").read_bytes()
    (root / "digit2" / "broken.png").write_bytes(whole[: len(whole) // 2])
    return root, np.concatenate(expected)[..., np.newaxis]


def image_folder(path: Path | str, **options) -> config.ImageFolderSource:
    return config.ImageFolderSource(source="imagefolder", path=str(path), **options)


def test_local_folder_in_grayscale(folder, tmp_path, caplog):
    root, expected = folder
    cfg = image_folder(root, image_size=(16, 16), color_mode="grayscale")
    out = tmp_path / "raw" / "digits"
    with caplog.at_level(logging.WARNING):
        sources.fetch_raw("digits", cfg, out)
    raw = sources.read_raw("digits", cfg, out)
    assert (raw.task, raw.layout, raw.class_names, raw.test) == ("classification", "image", CLASSES, None)
    assert raw.x.dtype == np.float32 and raw.x.shape == (30, 16, 16, 1)
    np.testing.assert_array_equal(raw.x, expected)  # same size: no resampling, RGB -> L is exact for grey
    np.testing.assert_array_equal(raw.y, np.repeat([0, 1, 2], 10))
    meta = storage.read_json(out / "meta.json")
    assert [entry["file"] for entry in meta["skipped"]] == SKIPPED
    reasons = [entry["reason"] for entry in meta["skipped"]]
    assert reasons[:2] == ["not in a class directory", "not an image Pillow can read"]
    assert reasons[2].startswith("unreadable image")
    assert all(any(file in message for message in caplog.messages) for file in SKIPPED)
    assert sorted(p.name for p in out.iterdir()) == ["data.npz", "meta.json"]


def test_rgb_resized_to_height_and_width(folder, tmp_path):
    root, expected = folder
    cfg = image_folder(root, image_size=(12, 10), color_mode="rgb")
    sources.fetch_raw("digits", cfg, tmp_path / "raw")
    raw = sources.read_raw("digits", cfg, tmp_path / "raw")
    assert raw.x.shape == (30, 12, 10, 3)
    np.testing.assert_array_equal(raw.x[..., 0], raw.x[..., 2])  # grey stays grey
    brightness = raw.x.mean(axis=(1, 2, 3)) - expected.mean(axis=(1, 2, 3))
    assert np.abs(brightness).max() < 5  # the same pictures, resampled


def test_archive_served_over_http(folder, http_server, tmp_path):
    root, expected = folder
    base, served, server = http_server
    with tarfile.open(served / "digits.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="digits")
    archive = {"url": f"{CANONICAL}/digits.tar.gz", "sha256": storage.sha256_file(served / "digits.tar.gz")}
    cfg = image_folder("digits", archive=archive, mirror=base, image_size=(16, 16), color_mode="grayscale")
    out = tmp_path / "raw" / "digits"
    sources.fetch_raw("digits", cfg, out)
    assert server.hits == ["/digits.tar.gz"]
    assert sorted(p.name for p in out.iterdir()) == ["data.npz", "meta.json"]  # no archive, no scratch
    assert list(out.parent.iterdir()) == [out]
    raw = sources.read_raw("digits", cfg, out)
    np.testing.assert_array_equal(raw.x, expected)
    assert [entry["file"] for entry in storage.read_json(out / "meta.json")["skipped"]] == SKIPPED

    for path, message in [
        ("photos", "no directory 'photos'; its top level holds: digits"),
        ("../x", "relative"),
    ]:
        with pytest.raises(PipelineError, match=f"datasets.digits.path: .*{message}"):
            sources.fetch_raw("digits", image_folder(path, archive=archive, mirror=base), tmp_path / "other")
        assert not (tmp_path / "other").exists()


def test_decompression_bomb_is_skipped_undecoded(folder, tmp_path):
    root, _ = folder
    bomb = root / "digit1" / "bomb.png"
    Image.new("L", (1, 1)).save(bomb)
    png = bytearray(bomb.read_bytes())
    png[16:24] = struct.pack(">II", 30_000, 30_000)  # IHDR claims 900 megapixels
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    bomb.write_bytes(bytes(png))
    sources.fetch_raw("digits", image_folder(root), tmp_path / "raw")
    skipped = storage.read_json(tmp_path / "raw" / "meta.json")["skipped"]
    assert "decompression bomb" in {entry["file"]: entry["reason"] for entry in skipped}["digit1/bomb.png"]


def test_missing_path_no_classes_and_an_empty_class_are_errors(folder, tmp_path):
    root, _ = folder
    cases = [
        (tmp_path / "nowhere", "is not a directory"),
        (root / "digit0", "has no sub-directories"),
    ]
    for path, message in cases:
        with pytest.raises(PipelineError, match=message):
            sources.fetch_raw("digits", image_folder(path), tmp_path / "raw")
    (root / "digit3").mkdir()
    (root / "digit3" / "readme.txt").write_text("to do\n")
    with pytest.raises(PipelineError, match="class directory .*digit3 holds no readable images"):
        sources.fetch_raw("digits", image_folder(root), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_preprocess_gives_stratified_scaled_splits(folder, tmp_path):
    root, _ = folder
    cfg = image_folder(root, image_size=(8, 8), color_mode="grayscale")
    sources.fetch_raw("digits", cfg, tmp_path / "raw")
    data = preprocess("digits", cfg, tmp_path / "raw", seed=0)
    assert data.schema.layout == "image" and data.schema.input_shape == (8, 8, 1)
    assert data.schema.class_names == CLASSES
    sizes = [len(data.split(name).y) for name in ("train", "val", "test")]
    assert sum(sizes) == 30 and sizes[2] == 6  # test_size 0.2
    for name in ("train", "val", "test"):
        split = data.split(name)
        assert set(split.y.tolist()) == {0, 1, 2}  # every class in every split
        assert split.x.dtype == np.float32 and split.x.min() >= 0
    assert data.train.x.max() == 1.0  # scaled by the train maximum
