"""Optuna searches whose trials are DVC experiments: `make tune` / `python -m pipeline.tuning`."""
