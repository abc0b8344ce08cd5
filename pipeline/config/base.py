"""What every params section shares: strict sections, names, shares, hashes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Task = Literal["classification", "regression", "forecast", "language_model"]
TabularTask = Literal["classification", "regression", "forecast"]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Md5 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Share = Annotated[float, Field(gt=0, lt=1)]
Rate = Annotated[float, Field(ge=0, lt=1)]
PositiveInt = Annotated[int, Field(gt=0)]
Units = Annotated[list[PositiveInt], Field(min_length=1)]
# Dataset, model and experiment keys end up in DVC commands (`${key}`), paths and MLflow names
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
Prefix = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]*$", max_length=32)]
Backend = Literal["keras", "sklearn"]


class Section(BaseModel):
    """Strict: no bool or float for an int, no string for a number, finite floats only, no unknown key."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
