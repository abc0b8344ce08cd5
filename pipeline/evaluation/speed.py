"""How fast a fitted model predicts, and how much disk it takes."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def measure_throughput(predict: Callable[[np.ndarray], Any], x: np.ndarray, *, repeats: int = 3) -> float:
    """Samples per second of `predict(x)`: the median of `repeats` timed passes after one warm-up."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if len(x) == 0:
        raise ValueError("x is empty: cannot measure throughput on zero samples")
    predict(x)  # warm-up: lazy initialisation, graph tracing and caches are not throughput
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(x)
        durations.append(time.perf_counter() - start)
    seconds = max(statistics.median(durations), 1e-9)  # a clock tick can read 0 on tiny inputs
    return len(x) / seconds


def directory_size_bytes(path: Path | str) -> int:
    """Total size of the files under `path` (or of `path` itself if it is a file), not following links."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        raise ValueError(f"{path} does not exist")
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


# --- writers -------------------------------------------------------------------------------
