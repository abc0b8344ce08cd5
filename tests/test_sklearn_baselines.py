"""scikit-learn baselines that read cleanly: no deprecated settings, probabilities kept where asked."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.svm import SVC

from pipeline.backends.sklearn import baselines
from pipeline.tracking import model_logging


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=90, n_classes=3, n_informative=4, random_state=0)


def test_svc_probability_uses_calibration_without_a_future_warning(blobs) -> None:
    x, y = blobs
    model = baselines.build("svc", {"C": 10.0, "gamma": "scale", "probability": True}, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn 1.9 deprecates SVC(probability=True)
        model.fit(x, y)
        probabilities = model.predict_proba(x)
    estimator = model.named_steps["estimator"]
    assert isinstance(estimator, CalibratedClassifierCV) and isinstance(estimator.estimator, SVC)
    assert estimator.estimator.C == 10.0
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert model_logging.sklearn_serialization(model)["serialization_format"] == "skops"


def test_svc_without_probability_stays_a_plain_svc(blobs) -> None:
    model = baselines.build("svc", {"C": 1.0}, seed=0).fit(*blobs)
    assert isinstance(model.named_steps["estimator"], SVC)
