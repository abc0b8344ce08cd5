"""The Keras backend: model builders, device handling, the training loop and
saving, loading and predicting (`fitted`; imports TensorFlow).

Only the fingerprints of Keras experiments' `train@` and `evaluate@` stages cover it (see
pipeline/workflow/fingerprints.py): an edit here re-runs no scikit-learn stage.
"""
