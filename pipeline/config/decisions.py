"""The `promote:` and `gate:` sections: which test metrics judge a model (see pipeline.core.metrics)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from pipeline.config.base import Section, Task
from pipeline.core import metrics

PROMOTE_METRICS = {  # the metric each task is judged on unless promote.metrics says otherwise
    "classification": "accuracy",
    "regression": "rmse",
    "forecast": "rmse",
    "language_model": "bits_per_char",
}


class Promote(Section):
    """Champion / challenger per dataset: the test metric each task is judged on (tasks left out keep
    their default), and the margin to beat."""

    metrics: dict[Task, str] = PROMOTE_METRICS
    margin: Annotated[float, Field(ge=0)] = 0.0

    @field_validator("metrics", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        return {**PROMOTE_METRICS, **value} if isinstance(value, dict) else value

    @field_validator("metrics", mode="after")
    @classmethod
    def _known_metrics(cls, value: dict[str, str]) -> dict[str, str]:
        for task, metric in value.items():
            written = [spec.name for spec in metrics.for_task(task)]
            if metric not in written:
                raise ValueError(
                    f"{task}: no test metric {metric!r} for this task; use one of {', '.join(written)}"
                )
        return value


class Gate(Section):
    """How much worse than its baseline a test metric may get before `make retrain` refuses to push.

    `tolerance` is in the metric's own units, `relative_tolerance` a fraction of the baseline value
    (for errors whose scale depends on the data set); metrics listed in neither are not gated.
    """

    tolerance: dict[str, Annotated[float, Field(ge=0)]] = {}
    relative_tolerance: dict[str, Annotated[float, Field(ge=0)]] = {}

    @field_validator("tolerance", "relative_tolerance", mode="after")
    @classmethod
    def _known_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(metrics.METRICS))
        if unknown:
            raise ValueError(
                f"no test metric {', '.join(unknown)}; use one of {', '.join(sorted(metrics.METRICS))}"
            )
        return value

    @model_validator(mode="after")
    def _one_tolerance_per_metric(self) -> Gate:
        both = sorted(set(self.tolerance) & set(self.relative_tolerance))
        if both:
            raise ValueError(f"{', '.join(both)}: give either tolerance or relative_tolerance, not both")
        return self
