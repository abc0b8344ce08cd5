"""The whole params file: its sections, one experiment resolved, and the one reader of the file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML, YAMLError

from pipeline.config.base import Backend, Name, Section
from pipeline.config.datasets import DatasetConfig, Refresh
from pipeline.config.decisions import Gate, Promote
from pipeline.config.models import ModelConfig, Models
from pipeline.config.tracking import Mlflow
from pipeline.config.training import Train, TrainOverrides, TrainSettings
from pipeline.config.tuning import TuneSpec, endpoints, read_by
from pipeline.config.validation import Validate
from pipeline.core.errors import PipelineError

DEFAULT_PARAMS = Path("params.yaml")


class ExperimentSpec(Section):
    dataset: Name
    backend: Backend
    model: Name  # a key of models.<backend>
    train: TrainOverrides = TrainOverrides()  # Keras experiments only


class Params(Section):
    model_config = ConfigDict(**Section.model_config, serialize_by_alias=True)  # `validate:` back out

    seed: Annotated[int, Field(ge=0, lt=2**32)] = 42  # NumPy's seed range
    datasets: dict[Name, DatasetConfig]
    refresh: Refresh = Refresh()
    models: Models = Models()
    experiments: dict[Name, ExperimentSpec] = {}
    train: TrainSettings = TrainSettings()
    mlflow: Mlflow = Mlflow()
    promote: Promote = Promote()
    gate: Gate = Gate()
    validation: Validate = Field(Validate(), alias="validate")  # `validate` would shadow BaseModel.validate
    tune: dict[Name, TuneSpec] = {}

    @model_validator(mode="after")
    def _experiments_name_known_parts(self) -> Params:
        for name, spec in self.experiments.items():
            if spec.dataset not in self.datasets:
                raise ValueError(
                    f"experiments.{name}.dataset: unknown dataset {spec.dataset!r}; "
                    f"known: {', '.join(sorted(self.datasets))}"
                )
            known = getattr(self.models, spec.backend)
            if spec.model not in known:
                raise ValueError(
                    f"experiments.{name}.model: unknown {spec.backend} model {spec.model!r}; "
                    f"known: {', '.join(sorted(known)) or 'none'} (models.{spec.backend})"
                )
            if spec.backend == "sklearn" and spec.train != TrainOverrides():
                raise ValueError(f"experiments.{name}.train: only Keras experiments take training overrides")
        return self

    @model_validator(mode="after")
    def _tune_spaces_give_valid_params(self) -> Params:
        """Each searched path is one the experiment reads, and its ends (each choice) are valid there.
        The search of an experiment the file no longer has is left alone until `make tune` asks for it."""
        for name, spec in self.tune.items():
            if name not in self.experiments:
                continue
            readers = read_by(name, self.experiments[name])
            base = self.model_dump(mode="json", by_alias=True, exclude={"tune"})
            for path, dimension in spec.space.items():
                where = f"tune.{name}.space.{path}"
                if not any(path == prefix or path.startswith(f"{prefix}.") for prefix in readers):
                    raise ValueError(
                        f"{where}: experiment {name} does not read it; it reads {', '.join(readers)}"
                    )
                kind, values = endpoints(dimension)
                for value in values:
                    edited = _with_value(base, path.split("."), value)
                    try:
                        Params.model_validate(edited)
                    except ValidationError as err:
                        problem = f"{value!r} gives invalid params ({_describe(err, edited).strip()})"
                        raise ValueError(f"{where}.{kind}: {problem}") from None
        return self


class Experiment(Section):
    """Everything one train / evaluate stage needs, resolved from the params file."""

    name: str
    seed: int
    dataset: str
    backend: Backend
    dataset_config: DatasetConfig
    model_name: str
    model: ModelConfig
    train: Train = Train()  # Keras settings (with the experiment's overrides)
    n_jobs: int = 1  # scikit-learn parallelism
    mlflow: Mlflow = Mlflow()


def _with_value(data: dict, keys: list[str], value: Any) -> dict:
    """A copy of nested `data` with keys[0].keys[1]... set to value (missing or null levels made dicts)."""
    head, *rest = keys
    inner = data.get(head) if isinstance(data.get(head), dict) else {}
    return {**data, head: _with_value(inner, rest, value) if rest else value}


def _location(loc: tuple[int | str, ...], raw: Any) -> str:
    """An error's dotted path in the params file, without the tag pydantic adds after a discriminated
    union's field (models.keras.dnn.dnn.dropout_rate -> models.keras.dnn.dropout_rate)."""
    parts, data = [], raw
    for part in loc:
        if str(part).startswith("function-"):
            continue
        if isinstance(data, dict) and part not in data and part in data.values():
            continue  # the tag: the value of the union's discriminator (family, source)
        parts.append(str(part))
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):  # a missing key, or under a value that is not a mapping
            data = None
    return ".".join(parts).replace(".[key]", " (a key)")


def _describe(error: ValidationError, raw: Any) -> str:
    lines = []
    for item in error.errors():
        where = _location(item["loc"], raw)
        value = item.get("input")
        shown = f" (got {value!r})" if not isinstance(value, dict) else ""
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {message}{shown}" if where else f"  {message}")
    return "\n".join(lines)


def read_yaml(path: Path) -> Any:
    """The params file parsed as DVC parses it (ruamel.yaml, YAML 1.2): what DVC tracks is what is checked."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise PipelineError(f"params file {path} not found: run from the repository root") from None
    return parse_yaml(data, path)


def parse_yaml(data: bytes | str, where: object) -> Any:
    """Params text (from a file or a git revision, named by `where`) parsed by DVC's YAML rules."""
    try:
        return YAML(typ="safe").load(data)
    except (YAMLError, UnicodeDecodeError, ValueError, RecursionError) as err:  # ValueError: bad dates
        raise PipelineError(f"{where} is not valid YAML: {err}") from None


def validate(raw: Any, where: object) -> Params:
    """Parsed params validated whole; PipelineError names every bad key."""
    if not isinstance(raw, dict):
        raise PipelineError(f"{where} must hold a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise PipelineError(f"{where} has invalid params:\n{_describe(err, raw)}") from None


def load(path: Path = DEFAULT_PARAMS) -> Params:
    """Read and validate the whole params file; PipelineError names every bad key."""
    return validate(read_yaml(path), path)


def dataset(params: Params, name: str) -> DatasetConfig:
    """The config of one dataset, or a PipelineError listing the known names."""
    if name not in params.datasets:
        raise PipelineError(f"unknown dataset {name!r}; known: {', '.join(sorted(params.datasets))}")
    return params.datasets[name]


def experiment(params: Params, name: str) -> Experiment:
    """Resolve one experiment: its model section and the shared train section with its overrides."""
    if name not in params.experiments:
        raise PipelineError(f"unknown experiment {name!r}; known: {', '.join(sorted(params.experiments))}")
    spec = params.experiments[name]
    overrides = spec.train.model_dump(exclude_none=True)
    return Experiment(
        name=name,
        seed=params.seed,
        dataset=spec.dataset,
        dataset_config=params.datasets[spec.dataset],
        backend=spec.backend,
        model_name=spec.model,
        model=getattr(params.models, spec.backend)[spec.model],
        train=Train.model_validate({**params.train.keras.model_dump(), **overrides}),
        n_jobs=params.train.sklearn.n_jobs,
        mlflow=params.mlflow,
    )
