"""pipeline.backends.sklearn.image_features: HOG as skimage computes it, colour histograms, and models
that take raw images through a feature step (fit, compatibility, save / load)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.feature import hog as skimage_hog

from pipeline.backends.sklearn import image_features
from pipeline.config import ImageFeatures, SklearnModel
from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import ProcessedData, Schema, Split
from pipeline.models import building, persistence, prediction
from tests.conftest import make_data

HOG = ImageFeatures(kind="hog", pixels_per_cell=4, cells_per_block=2)


def image_data(shape: tuple[int, int, int] = (16, 16, 3), n_train: int = 60) -> ProcessedData:
    """Three classes, each of its own brightness and texture (horizontal, vertical or no stripes)."""
    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        y = np.arange(n) % 3
        x = rng.random((n, *shape)) * 0.3 + 0.2 * y[:, None, None, None]
        x[y == 0, ::4] += 0.4
        x[y == 1, :, ::4] += 0.4
        return Split(np.clip(x, 0, 1).astype(np.float32), y.astype(np.int64))

    schema = Schema(dataset="tiny_rgb", task="classification", layout="image", input_shape=shape, n_classes=3)
    return ProcessedData(schema, split(n_train), split(15), split(15))


@pytest.mark.parametrize(
    ("shape", "cell", "block", "orientations"),
    [((28, 28), 4, 2, 9), ((28, 28), 7, 2, 9), ((30, 29), 5, 3, 8), ((8, 8), 4, 1, 12)],
)
def test_hog_matches_skimage(shape, cell, block, orientations):
    rng = np.random.default_rng(1)
    images = rng.random((6, *shape)).astype(np.float32)
    images[:2] = np.round(images[:2] * 2) / 2  # ties on the bin edges, flat patches
    expected = np.stack(
        [
            skimage_hog(
                image,
                orientations=orientations,
                pixels_per_cell=(cell, cell),
                cells_per_block=(block, block),
            )
            for image in images
        ]
    )
    actual = image_features.hog(
        images, orientations=orientations, pixels_per_cell=cell, cells_per_block=block
    )
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_hog_of_colour_images_is_the_hog_of_their_grey_version(monkeypatch):
    monkeypatch.setattr(image_features, "BATCH", 4)  # several batches, one of them short
    rgb = np.random.default_rng(2).random((10, 12, 12, 3)).astype(np.float32)
    grey = rgb @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)  # skimage.color.rgb2gray
    np.testing.assert_allclose(
        image_features.extract(rgb, **HOG.model_dump()),
        image_features.hog(grey, orientations=9, pixels_per_cell=4, cells_per_block=2),
        atol=1e-6,
    )


def test_color_histograms_are_normalised_per_channel():
    images = np.zeros((2, 2, 2, 3), dtype=np.float32)
    images[0, ..., 0] = [[0.0, 0.3], [0.99, 1.0]]  # 1.0 falls in the last bin
    images[1, ..., 2] = [[-0.1, 1.5], [0.5, 0.5]]  # outside [0, 1]: the end bins
    histograms = image_features.color_histograms(images, bins=4).reshape(2, 3, 4)
    np.testing.assert_allclose(histograms.sum(axis=-1), 1.0)
    np.testing.assert_allclose(histograms[0, 0], [0.25, 0.25, 0.0, 0.5])
    np.testing.assert_allclose(histograms[1, 2], [0.25, 0.0, 0.5, 0.25])
    assert image_features.color_histograms(images[..., :1], bins=4).shape == (2, 4)  # grey: one channel


def test_both_kinds_side_by_side():
    images = image_data().train.x[:5]
    both = image_features.extract(
        images, **HOG.model_copy(update={"kind": "hog+color_histogram"}).model_dump()
    )
    hog = image_features.extract(images, **HOG.model_dump())
    assert both.shape == (5, hog.shape[1] + 3 * HOG.bins)
    np.testing.assert_array_equal(both[:, : hog.shape[1]], hog)


@pytest.mark.parametrize(
    ("estimator", "kind", "steps"),
    [
        ("svc", "hog", ["features", "scale", "estimator"]),
        ("random_forest", "color_histogram", ["features", "estimator"]),
    ],
)
def test_feature_models_fit_and_round_trip_on_raw_images(tmp_path, estimator, kind, steps):
    data = image_data()
    model_cfg = SklearnModel(
        family="sklearn",
        estimator=estimator,
        hyperparameters={"n_estimators": 10} if estimator == "random_forest" else {},
        features=HOG.model_copy(update={"kind": kind}),
    )
    model = building.build(model_cfg, data.schema, seed=0)
    assert [name for name, _ in model.steps] == steps
    model.fit(data.train.x, data.train.y)
    assert (model.predict(data.test.x) == data.test.y).mean() > 0.8
    persistence.save(model, tmp_path, {"seed": 0})
    loaded = persistence.load(tmp_path)  # skops trusts the feature function by name
    np.testing.assert_array_equal(
        prediction.predict(loaded, data.test.x, data.schema),
        prediction.predict(model, data.test.x, data.schema),
    )


@pytest.mark.parametrize(
    ("data", "features", "message"),
    [
        (make_data(layout="tabular"), HOG, r"features \(hog\) are computed from images"),
        (
            make_data(),
            ImageFeatures(kind="hog", pixels_per_cell=4, cells_per_block=3),
            "do not fit a 8x8 image",
        ),
        (image_data((16, 16, 2)), HOG, "HOG needs grey or RGB images, these have 2 channels"),
    ],
)
def test_feature_models_need_fitting_images(data, features, message):
    model_cfg = SklearnModel(family="sklearn", estimator="svc", features=features)
    with pytest.raises(PipelineError, match=message):
        building.check_compatible(model_cfg, data.schema, name="hog_svc")


def test_colour_histograms_take_any_image():
    model_cfg = SklearnModel(
        family="sklearn", estimator="svc", features=ImageFeatures(kind="color_histogram")
    )
    building.check_compatible(model_cfg, image_data((4, 4, 2)).schema)
