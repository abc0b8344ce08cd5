"""Time-aware splits: how many of the newest rows of a table with a `time` column make its test split.

Preprocess cuts the split with it; validate measures train-vs-test drift on the same cut.
"""

from __future__ import annotations

import numpy as np

from pipeline.core.errors import PipelineError


def test_rows(name: str, times: np.ndarray, split_cfg) -> int:
    """How many of the newest rows (in time order, `times` of each) make the test split."""
    window = getattr(split_cfg, "test_window", None)
    if window is None:
        return int(round(len(times) * split_cfg.test_size))
    if isinstance(window, int):
        return window
    if len(times) == 0:
        return 0  # no windows at all: _chronological says the series is too short
    if times.dtype.kind != "M":
        raise PipelineError(
            f"dataset {name!r}: split.test_window {window!r} is a span of time, but the `time` column "
            "holds no dates; give test_window as a number of rows"
        )
    import pandas as pd

    return int(np.count_nonzero(times > times[-1] - pd.Timedelta(window).to_timedelta64()))
