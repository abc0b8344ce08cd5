"""The scikit-learn backend: baseline estimators, face completion and their fitting.

`train@<experiment>` stages of scikit-learn experiments depend on this folder; Keras stages do not.
"""
