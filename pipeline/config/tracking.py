"""The `mlflow:` section: where runs go and whether tracking is required."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import Field, field_validator

from pipeline.config.base import Prefix, Section

MLFLOW_REQUIRED_ENV = "PIPELINE_MLFLOW_REQUIRED"


class Mlflow(Section):
    """Where runs go. `required` is also switched on by PIPELINE_MLFLOW_REQUIRED=true (how CI
    retrains demand tracking without editing params.yaml, so no stage looks changed to DVC)."""

    experiment_prefix: Prefix = ""
    required: Annotated[bool, Field(validate_default=True)] = False
    timeout_seconds: Annotated[float, Field(gt=0)] = 5.0

    @field_validator("required", mode="after")
    @classmethod
    def _required_by_environment(cls, value: bool) -> bool:
        return value or required_by_environment()


def required_by_environment() -> bool:
    """Whether PIPELINE_MLFLOW_REQUIRED makes tracking required, whatever params.yaml says."""
    return os.environ.get(MLFLOW_REQUIRED_ENV, "").lower() in ("1", "true", "yes")
