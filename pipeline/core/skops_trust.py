"""The one list of types skops may load: scikit-learn, numpy and our own model-step functions.

Both the scikit-learn backend's loader and the model logged to MLflow use it; it imports nothing,
so the modules that check it stay light.
"""

from __future__ import annotations

TRUSTED_PREFIXES = ("sklearn.", "numpy.")
OWN_FUNCTIONS = (
    "pipeline.backends.sklearn.baselines.flatten",
    "pipeline.backends.sklearn.face_completion.upper_half",
    "pipeline.backends.sklearn.image_features.extract",
    "pipeline.backends.sklearn.text.ids_to_text",
)


def refused_types(names: list[str]) -> list[str]:
    """The skops type names outside the list."""
    return [name for name in names if not name.startswith(TRUSTED_PREFIXES) and name not in OWN_FUNCTIONS]
