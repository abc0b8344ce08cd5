"""The scikit-learn backend: baseline estimators, face completion and their fitting.

Only the fingerprints of scikit-learn experiments' `train@` and `evaluate@` stages cover it (see
pipeline/workflow/fingerprints.py): an edit here re-runs no Keras stage.
"""
