"""The scikit-learn backend: baseline estimators (one registry), face completion, TF-IDF
text models, their fitting and saving, loading and predicting (`fitted`, with skops).

Only the fingerprints of scikit-learn experiments' `train@` and `evaluate@` stages cover it (see
pipeline/workflow/fingerprints.py): an edit here re-runs no Keras stage.
"""
