"""Models by config: check one against a dataset, and build it (unfitted) for its backend.

TensorFlow/Keras are imported only inside the functions that need them, so stages that merely
check a config or touch scikit-learn models start fast.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import ModelConfig, SklearnModel
from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import Schema

LAYOUTS_NEEDED = {
    "dnn": ("image", "tabular", "sequence"),
    "cnn": ("image",),
    "transfer": ("image",),
    "lstm": ("image", "sequence", "text"),
    "conv1d": ("text",),
    "tfidf": ("text",),
    "face_completion": ("image",),
}
SKLEARN_FAMILIES = ("sklearn", "face_completion", "tfidf")


def _incompatible(model_cfg: ModelConfig, schema: Schema, name: str | None, problem: str) -> PipelineError:
    label = name or model_cfg.family
    return PipelineError(
        f"experiment pairs model {label!r} (family {model_cfg.family}) with dataset {schema.dataset!r} "
        f"(layout {schema.layout}, task {schema.task}): {problem}"
    )


def _check_features(model_cfg: SklearnModel, schema: Schema, name: str | None) -> None:
    features = model_cfg.features
    if schema.layout != "image":
        raise _incompatible(
            model_cfg,
            schema,
            name,
            f"features ({features.kind}) are computed from images: remove `features` to use the raw "
            "values, or pair the model with an image dataset",
        )
    height, width, channels = schema.input_shape
    if "hog" in features.kind:
        cells = min(height, width) // features.pixels_per_cell
        if cells < features.cells_per_block:
            raise _incompatible(
                model_cfg,
                schema,
                name,
                f"HOG blocks of {features.cells_per_block}x{features.cells_per_block} cells of "
                f"{features.pixels_per_cell} pixels do not fit a {height}x{width} image: lower "
                "features.pixels_per_cell or features.cells_per_block",
            )
        if channels not in (1, 3):
            raise _incompatible(
                model_cfg, schema, name, f"HOG needs grey or RGB images, these have {channels} channels"
            )


def check_compatible(model_cfg: ModelConfig, schema: Schema, *, name: str | None = None) -> None:
    """Raise PipelineError (with the fix) if the model cannot train on the dataset; never imports TF.

    `name` is the model's name in params.yaml, used in the message.
    """
    family = model_cfg.family
    needed = LAYOUTS_NEEDED.get(family)
    if needed and schema.layout not in needed:
        raise _incompatible(
            model_cfg,
            schema,
            name,
            f"{family} needs {' or '.join(needed)} data: pair it with such a dataset, "
            f"or use a model for {schema.layout} data",
        )
    if family == "tfidf" and schema.task != "classification":
        raise _incompatible(model_cfg, schema, name, "tfidf classifies documents: use an lstm model")
    if family == "lstm" and model_cfg.bidirectional and schema.task == "language_model":
        raise _incompatible(
            model_cfg, schema, name, "a language model reads left to right: set bidirectional to false"
        )
    if family == "transfer" and not schema.is_categorical:
        raise _incompatible(model_cfg, schema, name, "transfer trains a softmax head: use a cnn model")
    if family == "transfer" and schema.input_shape[-1] not in (1, 3):
        raise _incompatible(
            model_cfg,
            schema,
            name,
            f"transfer needs grey or RGB images, these have {schema.input_shape[-1]} channels",
        )
    if family == "sklearn" and model_cfg.features is not None:
        _check_features(model_cfg, schema, name)
    if family not in SKLEARN_FAMILIES:
        return
    from pipeline.backends.sklearn import baselines, face_completion

    if family == "face_completion":
        face_completion.build(model_cfg.estimator, model_cfg.hyperparameters, seed=0)
    if family in ("sklearn", "tfidf"):
        baseline = baselines.lookup(model_cfg.estimator)
        serves = "classification" if schema.is_categorical else "regression"
        if baseline.task != serves:
            kind = "classifier" if baseline.task == "classification" else "regressor"
            fitting = sorted(k for k, v in baselines.ESTIMATORS.items() if v.task == serves)
            raise _incompatible(
                model_cfg,
                schema,
                name,
                f"estimator {model_cfg.estimator!r} is a {kind}: use one of {', '.join(fitting)}",
            )
        baselines.build(model_cfg.estimator, model_cfg.hyperparameters, seed=0)


def build(
    model_cfg: ModelConfig, schema: Schema, seed: int, *, name: str | None = None, n_jobs: int | None = None
) -> Any:
    """An unfitted sklearn Pipeline or uncompiled keras.Model for the config and dataset.

    `n_jobs` is for scikit-learn estimators that take it. Keras: seeds Python, NumPy and Keras with
    `seed` first, so initial weights are reproducible; a transfer model's pinned weights are fetched
    (or taken from the cache) and verified before anything is built.
    """
    check_compatible(model_cfg, schema, name=name)
    if model_cfg.family in SKLEARN_FAMILIES:
        from pipeline.backends.sklearn import baselines, face_completion, text
    if model_cfg.family == "tfidf":
        return text.build(model_cfg, schema.vocabulary, schema.tokens, seed=seed, n_jobs=n_jobs)
    if model_cfg.family == "sklearn":
        return baselines.build(
            model_cfg.estimator,
            model_cfg.hyperparameters,
            seed=seed,
            n_jobs=n_jobs,
            features=model_cfg.features,
        )
    if model_cfg.family == "face_completion":
        return face_completion.build(model_cfg.estimator, model_cfg.hyperparameters, seed=seed, n_jobs=n_jobs)
    import keras

    from pipeline.backends.keras.builders import BUILDERS

    keras.utils.set_random_seed(seed)
    n_classes = schema.n_classes if schema.is_categorical else None
    if model_cfg.family == "transfer":
        from pipeline.backends.keras import transfer

        return transfer.build(model_cfg, tuple(schema.input_shape), n_classes)
    hyperparameters = model_cfg.model_dump(exclude={"family"})
    if schema.layout == "text":
        hyperparameters["vocab_size"] = len(schema.vocabulary)
        if model_cfg.family == "lstm":  # a language model's windows hold no padding: masking only costs
            hyperparameters["mask_padding"] = schema.task != "language_model"
            hyperparameters["every_step"] = trains_every_step(model_cfg, schema)
    return BUILDERS[model_cfg.family](tuple(schema.input_shape), n_classes, **hyperparameters)


def trains_every_step(model_cfg: ModelConfig, schema: Schema) -> bool:
    """An LSTM language model learns the next token after every position of a window, not only the last."""
    return model_cfg.family == "lstm" and schema.task == "language_model"
