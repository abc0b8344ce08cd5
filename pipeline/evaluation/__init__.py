"""Scoring a fitted model: metrics, figures, samples and speed."""
