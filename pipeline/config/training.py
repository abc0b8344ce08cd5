"""The `train:` section: Keras optimisation, schedules and devices; scikit-learn parallelism."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from pipeline.config.base import PositiveInt, Rate, Section


class Optimizer(Section):
    name: Literal["adam", "sgd", "rmsprop", "adagrad", "adadelta"] = "adam"
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    momentum: Rate = 0.0


class Schedule(Section):
    """Learning-rate schedule: constant, cosine decay over all steps, or step-wise decay."""

    name: Literal["constant", "cosine", "step"] = "constant"
    step_epochs: PositiveInt = 10
    step_factor: Annotated[float, Field(gt=0, le=1)] = 0.5


class Device(Section):
    """Where and how Keras trains. `auto` picks what helps on the hardware found."""

    mixed_precision: Literal["auto", "on", "off"] = "auto"
    jit_compile: Literal["auto", "on", "off"] = "auto"
    strategy: Literal["auto", "default", "mirrored"] = "auto"
    memory_growth: bool = True


class Train(Section):
    epochs: PositiveInt = 20
    batch_size: PositiveInt = 64
    optimizer: Optimizer = Optimizer()
    schedule: Schedule = Schedule()
    early_stopping_patience: Annotated[int, Field(ge=0)] = 5
    reduce_lr_patience: Annotated[int, Field(ge=0)] = 3
    deterministic: bool = True
    shuffle_buffer: PositiveInt = 10_000
    device: Device = Device()


class SklearnTrain(Section):
    n_jobs: int = 1  # CPU workers for estimators that take n_jobs (-1: all cores)

    @field_validator("n_jobs", mode="after")
    @classmethod
    def _some_workers(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 workers cannot train: give a count, or -1 for all cores")
        return value


class TrainSettings(Section):
    """Shared training settings per backend: editing Keras settings never re-runs scikit-learn stages."""

    keras: Train = Train()
    sklearn: SklearnTrain = SklearnTrain()


class TrainOverrides(Section):
    """Per-experiment changes to the shared `train` section (only the keys given)."""

    epochs: PositiveInt | None = None
    batch_size: PositiveInt | None = None
    optimizer: Optimizer | None = None
    schedule: Schedule | None = None
    early_stopping_patience: Annotated[int, Field(ge=0)] | None = None
    reduce_lr_patience: Annotated[int, Field(ge=0)] | None = None
