"""The `validate:` section: how validate@<dataset> judges a new snapshot of a table data set.

Drift compares each feature of the new snapshot with a sample of the previous one: `psi` (population
stability index over `bins` quantile bins of the previous data; categories as their own bins) or `ks`
(the two-sample Kolmogorov-Smirnov *statistic*, the largest gap between the two CDFs, in [0, 1];
categorical columns use the total variation distance, its analogue). The statistic, not its p-value:
on thousands of rows a p-value flags differences too small to matter.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pipeline.config.base import PositiveInt, Rate, Section

DEFAULT_THRESHOLDS = {"psi": 0.2, "ks": 0.1}  # PSI above 0.2: a significant shift (the usual rule)
PositiveScore = Annotated[float, Field(gt=0)]


class Validate(Section):
    method: Literal["psi", "ks"] = "psi"
    threshold: PositiveScore | None = None  # a feature drifts above this (default: by method, above)
    label_threshold: PositiveScore | None = None  # the same for the target's distribution
    on_drift: Literal["warn", "block"] = "warn"  # block: validate@ fails, preprocess does not run
    bins: Annotated[int, Field(ge=2, le=100)] = 10  # PSI's quantile bins of the previous snapshot
    max_missing_rate: Rate = 0.1  # allowance over a column's missing rate, written into a new schema
    reference_rows: PositiveInt = 10_000  # rows of a snapshot kept to compare the next one with

    @property
    def feature_threshold(self) -> float:
        return self.threshold if self.threshold is not None else DEFAULT_THRESHOLDS[self.method]

    @property
    def target_threshold(self) -> float:
        return self.label_threshold if self.label_threshold is not None else DEFAULT_THRESHOLDS[self.method]
