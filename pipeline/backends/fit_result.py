"""What a backend's fit returns: the fitted model, its history and how it was fitted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FitResult:
    model: Any  # fitted sklearn Pipeline or keras.Model
    history: list[dict[str, Any]]  # one dict per epoch: epoch, loss, val_loss, metrics, lr
    hyperparameters: dict[str, Any]
    device: dict[str, Any]
    fit_seconds: float
    resumed_from_epoch: int = 0
