"""Model families, each declared once: its settings class (pipeline.config.models, which names its
backend), the data it accepts, its builder and its own checks.

Adding a family is its settings class, its builder and one entry in FAMILIES. Nothing here imports a
backend: a builder or check imports its backend's code when it runs, so TensorFlow and scikit-learn
load only when a model of theirs is built or checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, get_args

import numpy as np

from pipeline.config.models import (
    CnnModel,
    Conv1dModel,
    DnnModel,
    FaceCompletionModel,
    LstmModel,
    ModelSettings,
    SklearnModel,
    TfidfModel,
    TransferModel,
)
from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import Layout, Schema, Split, Task
from pipeline.models.backends import BACKENDS, Backend

# (settings, schema, seed, n_jobs) -> the unfitted model
Builder = Callable[[Any, Schema, int, "int | None"], Any]
Check = Callable[[Any, Schema], "str | None"]  # the problem with the pairing and its fix, or None


def _labels(split: Split) -> np.ndarray:
    return split.y


@dataclass(frozen=True)
class Family:
    """One model family. `check` may also raise PipelineError for a bad setting of its own;
    `target` is what a scikit-learn model learns to predict from a split's `x`; `check_builds`:
    the params check may build the model (False: building fetches weights, so `train` does it)."""

    settings: type[ModelSettings]
    layouts: tuple[Layout, ...]
    build: Builder
    tasks: tuple[Task, ...] = get_args(Task)
    task_fix: str = "pair it with such a dataset"
    check: Check | None = None
    target: Callable[[Split], np.ndarray] = _labels
    check_builds: bool = True

    @property
    def name(self) -> str:
        return get_args(self.settings.model_fields["family"].annotation)[0]

    @property
    def backend(self) -> Backend:
        return BACKENDS[self.settings.backend]

    @property
    def flavor(self) -> str:
        """The MLflow flavor its models are logged with."""
        return self.backend.flavor

    def problem(self, model_cfg: Any, schema: Schema) -> str | None:
        """What keeps this family's model from training on the data, with the fix; None if nothing."""
        if schema.layout not in self.layouts:
            fitting = ", ".join(sorted(name for name, f in FAMILIES.items() if schema.layout in f.layouts))
            return (
                f"{self.name} needs {' or '.join(self.layouts)} data: pair it with such a dataset, "
                f"or use a model for {schema.layout} data (family {fitting})"
            )
        if schema.task not in self.tasks:
            return f"{self.name} needs a {' or '.join(self.tasks)} task, not {schema.task}: {self.task_fix}"
        return self.check(model_cfg, schema) if self.check else None


# --- scikit-learn ---------------------------------------------------------------------------------


def _estimator_serves(model_cfg: SklearnModel | TfidfModel, schema: Schema) -> str | None:
    """The estimator must serve the task; its hyperparameters are checked by building it."""
    from pipeline.backends.sklearn import baselines

    baseline = baselines.lookup(model_cfg.estimator)
    serves = "classification" if schema.is_categorical else "regression"
    if baseline.task != serves:
        kind = "classifier" if baseline.task == "classification" else "regressor"
        fitting = sorted(name for name, other in baselines.ESTIMATORS.items() if other.task == serves)
        return f"estimator {model_cfg.estimator!r} is a {kind}: use one of {', '.join(fitting)}"
    baselines.build(model_cfg.estimator, model_cfg.hyperparameters, seed=0)
    return None


def _features_fit(model_cfg: SklearnModel, schema: Schema) -> str | None:
    """Image features need images they fit."""
    features = model_cfg.features
    if features is None:
        return None
    if schema.layout != "image":
        return (
            f"features ({features.kind}) are computed from images: remove `features` to use the raw "
            "values, or pair the model with an image dataset"
        )
    height, width, channels = schema.input_shape
    if "hog" in features.kind:
        if min(height, width) // features.pixels_per_cell < features.cells_per_block:
            return (
                f"HOG blocks of {features.cells_per_block}x{features.cells_per_block} cells of "
                f"{features.pixels_per_cell} pixels do not fit a {height}x{width} image: lower "
                "features.pixels_per_cell or features.cells_per_block"
            )
        if channels not in (1, 3):
            return f"HOG needs grey or RGB images, these have {channels} channels"
    return None


def _check_sklearn(model_cfg: SklearnModel, schema: Schema) -> str | None:
    return _features_fit(model_cfg, schema) or _estimator_serves(model_cfg, schema)


def _build_sklearn(model_cfg: SklearnModel, schema: Schema, seed: int, n_jobs: int | None) -> Any:
    from pipeline.backends.sklearn import baselines

    return baselines.build(
        model_cfg.estimator, model_cfg.hyperparameters, seed=seed, n_jobs=n_jobs, features=model_cfg.features
    )


def _build_face_completion(
    model_cfg: FaceCompletionModel, schema: Schema, seed: int, n_jobs: int | None
) -> Any:
    from pipeline.backends.sklearn import face_completion

    return face_completion.build(model_cfg.estimator, model_cfg.hyperparameters, seed=seed, n_jobs=n_jobs)


def _check_face_completion(model_cfg: FaceCompletionModel, schema: Schema) -> None:
    _build_face_completion(model_cfg, schema, 0, None)  # raises for a bad hyperparameter


def _lower_halves(split: Split) -> np.ndarray:
    from pipeline.backends.sklearn import face_completion

    return face_completion.split_halves(split.x)[1]


def _build_tfidf(model_cfg: TfidfModel, schema: Schema, seed: int, n_jobs: int | None) -> Any:
    from pipeline.backends.sklearn import text

    return text.build(model_cfg, schema.vocabulary, schema.tokens, seed=seed, n_jobs=n_jobs)


# --- Keras ----------------------------------------------------------------------------------------


def trains_every_step(model_cfg: Any, schema: Schema) -> bool:
    """An LSTM language model learns the next token after every position of a window, not only the last."""
    return model_cfg.family == "lstm" and schema.task == "language_model"


def _lstm_inputs(model_cfg: LstmModel, schema: Schema) -> dict[str, Any]:
    if schema.layout != "text":
        return {}
    # a language model's windows hold no padding: masking only costs
    return {
        "mask_padding": schema.task != "language_model",
        "every_step": trains_every_step(model_cfg, schema),
    }


@dataclass(frozen=True)
class KerasBuilder:
    """A function `name` of pipeline.backends.keras.builders, given the settings, the vocabulary size of
    text data and `inputs` (more arguments from the data)."""

    name: str
    inputs: Callable[[Any, Schema], dict[str, Any]] | None = None

    def __call__(self, model_cfg: Any, schema: Schema, seed: int, n_jobs: int | None) -> Any:
        from pipeline.backends.keras import builders

        settings = model_cfg.model_dump(exclude={"family"})
        if schema.layout == "text":
            settings["vocab_size"] = len(schema.vocabulary)
        if self.inputs is not None:
            settings.update(self.inputs(model_cfg, schema))
        return builders.build(getattr(builders, self.name), schema, seed, **settings)


def _build_transfer(model_cfg: TransferModel, schema: Schema, seed: int, n_jobs: int | None) -> Any:
    from pipeline.backends.keras import builders, transfer

    return builders.build(partial(transfer.build, model_cfg), schema, seed)


def _check_lstm(model_cfg: LstmModel, schema: Schema) -> str | None:
    if model_cfg.bidirectional and schema.task == "language_model":
        return "a language model reads left to right: set bidirectional to false"
    return None


def _check_transfer(model_cfg: TransferModel, schema: Schema) -> str | None:
    channels = schema.input_shape[-1]
    return (
        None if channels in (1, 3) else f"transfer needs grey or RGB images, these have {channels} channels"
    )


def _by_name(*families: Family) -> dict[str, Family]:
    return {family.name: family for family in families}


FAMILIES: dict[str, Family] = _by_name(
    Family(SklearnModel, ("image", "tabular", "sequence", "text"), _build_sklearn, check=_check_sklearn),
    Family(
        FaceCompletionModel,
        ("image",),
        _build_face_completion,
        check=_check_face_completion,
        target=_lower_halves,
    ),
    Family(
        TfidfModel,
        ("text",),
        _build_tfidf,
        tasks=("classification",),
        task_fix="tfidf classifies documents: use an lstm model",
        check=_estimator_serves,
    ),
    Family(DnnModel, ("image", "tabular", "sequence"), KerasBuilder("build_dnn")),
    Family(CnnModel, ("image",), KerasBuilder("build_cnn")),
    Family(
        LstmModel, ("image", "sequence", "text"), KerasBuilder("build_lstm", _lstm_inputs), check=_check_lstm
    ),
    Family(Conv1dModel, ("text",), KerasBuilder("build_conv1d")),
    Family(
        TransferModel,
        ("image",),
        _build_transfer,
        tasks=("classification",),
        task_fix="transfer trains a softmax head: use a cnn model",
        check=_check_transfer,
        check_builds=False,
    ),
)


def get(name: str) -> Family:
    """The family `name`, or a PipelineError listing the known ones."""
    if name not in FAMILIES:
        raise PipelineError(f"unknown model family {name!r}: use one of {', '.join(sorted(FAMILIES))}")
    return FAMILIES[name]
