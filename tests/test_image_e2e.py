"""End to end: an image folder of PNGs through `dvc repro` with hand-made features, a CNN and transfer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.core import storage
from tests.conftest import make_project, run

pytestmark = pytest.mark.e2e

EXPERIMENTS = ("pngs-hog_svc", "pngs-mnist_cnn", "pngs-transfer")


def digit_pngs(root: Path, per_class: int = 15) -> Path:
    """3 classes of scikit-learn digits as 8x8 grey PNGs, one sub-folder per class."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in range(3):
        (root / f"digit{label}").mkdir(parents=True)
        images = (digits.images[digits.target == label][:per_class] * 255 / 16).round().astype(np.uint8)
        for i, image in enumerate(images):
            Image.fromarray(image, mode="L").save(root / f"digit{label}" / f"{i:02}.png")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = digit_pngs(tmp_path_factory.mktemp("images") / "pngs")
    fashion = yaml.safe_load((Path(__file__).resolve().parents[1] / "fashion" / "params.yaml").read_text())

    def edit(params: dict) -> None:
        params["datasets"] = {
            "pngs": {
                "source": "imagefolder",
                "path": str(folder),
                "image_size": [16, 16],
                "color_mode": "grayscale",
                "split": {"val_size": 0.2, "test_size": 0.2},
            }
        }
        params["models"] = {
            "sklearn": {"hog_svc": fashion["models"]["sklearn"]["hog_svc"]},
            "keras": {
                "mnist_cnn": fashion["models"]["keras"]["mnist_cnn"],
                "transfer": {
                    "family": "transfer",
                    "backbone": "mobilenet_v2",
                    "alpha": 0.35,
                    "input_size": 32,
                    "weights": None,
                    "fine_tune_layers": 5,
                    "fine_tune_epochs": 1,
                },
            },
        }
        params["experiments"] = {
            name: {"dataset": "pngs", "backend": backend, "model": name.split("-")[1]}
            for name, backend in zip(EXPERIMENTS, ("sklearn", "keras", "keras"), strict=True)
        }
        params["train"]["keras"].update(epochs=2, batch_size=8)

    root = make_project(tmp_path_factory.mktemp("image_e2e") / "project", edit)
    run(["dvc", "repro"], root)
    return root


def test_image_folder_experiments_run_end_to_end(project):
    schema = storage.read_json(project / "data" / "processed" / "pngs" / "schema.json")
    assert schema["input_shape"] == [16, 16, 1] and schema["class_names"] == ["digit0", "digit1", "digit2"]
    for name in EXPERIMENTS:
        metrics = storage.read_json(project / "results" / name / "metrics.json")
        assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
        assert (project / "results" / name / "plots" / "confusion.png").exists()
    hog_svc = storage.read_json(project / "results" / "pngs-hog_svc" / "metrics.json")["test"]
    assert hog_svc["accuracy"] > 0.5  # chance is 1/3
    history = (project / "results" / "pngs-transfer" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 2 + 1  # header, two head epochs, one fine-tuning epoch
    leaderboard = (project / "reports" / "leaderboard.md").read_text()
    assert all(name in leaderboard for name in EXPERIMENTS)
