"""Importable library behind the DVC stages: datasets, models, training, evaluation, tracking."""
