"""The Keras backend: model builders, device handling and the training loop (imports TensorFlow).

Only the fingerprints of Keras experiments' `train@` and `evaluate@` stages cover it (see
pipeline/workflow/fingerprints.py): an edit here re-runs no scikit-learn stage.
"""
