"""The `tune:` section: an Optuna search per experiment (`make tune EXPERIMENT=<name>`).

`space` maps dotted params paths to a range or a list of choices; each trial is a `dvc exp run` of the
experiment with those paths set. Which paths may be searched and whether their ranges give valid
params is checked against the whole file (pipeline.tuning.space), not here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.config.base import PositiveInt, Section
from pipeline.core import metrics

Number = int | float
Scalar = bool | int | float | str
Choice = Scalar | list[Scalar]  # a list sets a list-valued param whole, e.g. filters: [16, 32]
EPOCH_MONITORS = {  # the test metric a study optimises -> the per-epoch Keras value that can prune it
    "accuracy": "val_accuracy",
    "log_loss": "val_loss",
    "bits_per_char": "val_loss",  # the loss in nats per token: the same order as bits and perplexity
    "perplexity": "val_loss",
    "rmse": "val_rmse",
    "mae": "val_mae",
}


class FloatRange(Section):
    model_config = ConfigDict(**Section.model_config, serialize_by_alias=True)  # `float:` back out

    float_: Annotated[list[Number], Field(alias="float", min_length=2, max_length=2)]
    log: bool = False
    step: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        low, high = self.float_
        if not low < high:
            raise ValueError(f"float: [low, high] needs low < high, got {self.float_}")
        if self.log and low <= 0:
            raise ValueError(f"log: true needs a positive low end, got {low}")
        if self.log and self.step is not None:
            raise ValueError("give either log or step, not both")
        return self


class IntRange(Section):
    model_config = ConfigDict(**Section.model_config, serialize_by_alias=True)

    int_: Annotated[list[int], Field(alias="int", min_length=2, max_length=2)]
    log: bool = False
    step: PositiveInt = 1

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        low, high = self.int_
        if not low < high:
            raise ValueError(f"int: [low, high] needs low < high, got {self.int_}")
        if self.log and (low <= 0 or self.step != 1):
            raise ValueError("log: true needs a positive low end and step 1")
        return self


class Choices(Section):
    choice: Annotated[list[Choice], Field(min_length=2)]


Dimension = FloatRange | IntRange | Choices


class Objective(Section):
    """What a trial is judged on: a metric evaluate@ writes, on a split (never test: it stays unseen)."""

    metric: str
    split: Literal["val", "train"] = "val"

    @field_validator("metric", mode="after")
    @classmethod
    def _known(cls, value: str) -> str:
        metrics.spec(value)
        return value

    @property
    def direction(self) -> str:
        return "maximize" if metrics.spec(self.metric).higher_is_better else "minimize"


class Sampler(Section):
    name: Literal["tpe", "random", "grid"] = "tpe"
    seed: int | None = None  # None: the params file's seed
    startup_trials: PositiveInt = 5  # TPE: random trials before it models the results


class Pruner(Section):
    name: Literal["median", "none"] = "median"
    startup_trials: Annotated[int, Field(ge=0)] = 3  # finished trials before any is pruned
    warmup_epochs: Annotated[int, Field(ge=0)] = 2  # epochs every trial runs before it can be pruned


class TuneSpec(Section):
    space: Annotated[dict[str, Dimension], Field(min_length=1)]
    objective: Objective
    n_trials: PositiveInt = 20
    timeout_minutes: Annotated[float, Field(gt=0)] | None = None  # no trial starts later, any worker
    sampler: Sampler = Sampler()
    pruner: Pruner = Pruner()

    @field_validator("space", mode="before")
    @classmethod
    def _dimensions_by_kind(cls, value: Any) -> Any:
        """Pick the dimension model by its key (float / int / choice), so errors name only that one."""
        if not isinstance(value, dict):
            return value
        kinds = {"float": FloatRange, "int": IntRange, "choice": Choices}
        parsed = {}
        for path, dimension in value.items():
            kind = [key for key in kinds if isinstance(dimension, dict) and key in dimension]
            if len(kind) != 1:
                got = "" if isinstance(dimension, dict) else f" (got {dimension!r})"
                kinds_said = "float: [low, high], int: [low, high] or choice: [...]"
                raise ValueError(f"{path}: give one of {kinds_said}{got}")
            try:
                parsed[path] = kinds[kind[0]].model_validate(dimension)
            except ValidationError as err:
                raise ValueError(f"{path}: {_problems(err)}") from None
        return parsed

    @model_validator(mode="after")
    def _grid_needs_finite_values(self) -> TuneSpec:
        if self.sampler.name == "grid":
            for path, dimension in self.space.items():
                if isinstance(dimension, FloatRange) and dimension.step is None:
                    raise ValueError(f"space.{path}: the grid sampler needs choice, int or a float step")
        return self

    @property
    def epoch_monitor(self) -> str | None:
        """The Keras history key a pruner watches, or None when trials are not pruned."""
        return None if self.pruner.name == "none" else EPOCH_MONITORS.get(self.objective.metric)


def _problems(error: ValidationError) -> str:
    """A dimension's errors on one line: `step: Input should be greater than 0; ...`."""
    problems = []
    for item in error.errors():
        where, message = ".".join(map(str, item["loc"])), item["msg"].removeprefix("Value error, ")
        shown = "" if isinstance(item.get("input"), dict) else f" (got {item.get('input')!r})"
        problems.append(f"{where}: {message}{shown}" if where else message + shown)
    return "; ".join(problems)


def endpoints(dimension: Dimension) -> tuple[str, list[Any]]:
    """The dimension's kind (its key: float, int, choice) and the values that bound it: both ends of a
    range, every choice."""
    if isinstance(dimension, FloatRange):
        return "float", list(dimension.float_)
    if isinstance(dimension, IntRange):
        return "int", list(dimension.int_)
    return "choice", list(dimension.choice)


def read_by(name: str, spec: Any) -> list[str]:
    """The params paths experiment `name` (its ExperimentSpec) reads: what a search may change."""
    return [
        "seed",
        f"datasets.{spec.dataset}",
        f"experiments.{name}",
        f"models.{spec.backend}.{spec.model}",
        f"train.{spec.backend}",
    ]
