"""Importable library behind the DVC stages: datasets, models, training, evaluation, tracking."""

import os

# TensorFlow's C++ INFO lines ("Could not find cuda drivers…") drown the stage logs; warnings stay.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
