"""The model backends, one package each; only they import their library (Keras, scikit-learn)."""
