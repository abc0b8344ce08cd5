"""The scikit-learn backend: baseline estimators, face completion and their fitting.

`train@` and `evaluate@` stages of scikit-learn experiments depend on this folder; Keras ones do not.
"""
