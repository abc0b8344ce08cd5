"""The whole params file checked before any stage runs, so a bad value costs no output.

`config.load` checks structure, types, ranges and names without heavy imports; `check` then holds
each model against what its library accepts: scikit-learn's published parameter constraints; and,
where the params fix a dataset's input, each experiment's pairing of model and data, its Keras model
built (not trained) on that input, with no kernel or pooling window wider than what it slides over
(pipeline.backends.keras.builders.check_windows).
Any failure is one PipelineError naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline import config
from pipeline.config import DatasetConfig, Params
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import Schema
from pipeline.models import building, families

IMAGE_SHAPES = {"digits": (8, 8, 1)}  # scikit-learn's image set; the others are tables
TABLE_WIDTHS = {"iris": 4, "wine": 13, "breast_cancer": 30}
N_CLASSES = {"digits": 10, "iris": 3, "wine": 3, "breast_cancer": 2}  # other counts do not change validity
# what a scikit-learn model is built on before its data is known: only the text families read it
ANY_DATA = Schema("params", "classification", "text", (1,), 2, vocabulary=("a",), tokens="word")


def check(path: Path = config.DEFAULT_PARAMS, built: Path | None = None, keras_code: str = "") -> Params:
    """The validated params of `path`, or one PipelineError naming the bad key and what is allowed.

    `built` (a file outside DVC's outputs) remembers which Keras models built, by a hash of their
    settings, input and `keras_code` (the Keras code's fingerprint): an edit elsewhere imports no
    TensorFlow, and a change of that code builds every model again.
    """
    params = config.load(path)
    for name, model in params.models.sklearn.items():
        _named(f"{path}: models.sklearn.{name}", check_sklearn, model, params.train.sklearn.n_jobs)
    known = set(built.read_text().split()) if built is not None and built.is_file() else set()
    code = keras_code + storage.sha256_file(__file__)  # this check's own code counts too
    keys = set()
    for name in params.experiments:
        experiment = config.experiment(params, name)
        schema = known_schema(experiment.dataset, experiment.dataset_config)
        if schema is None:  # the input is known only once the data is (a CSV file): `train` checks it
            continue
        where = f"{path}: experiments.{name}"
        _named(where, building.check_compatible, experiment.model, schema, name=experiment.model_name)
        if experiment.backend != "keras":
            continue
        settings = experiment.model.model_dump_json()
        key = storage.sha256_bytes(f"{code}{settings}{schema}{experiment.seed}".encode())
        if key not in known:
            _named(where, check_keras, experiment, schema)
        keys.add(key)
    if built is not None and keys != known:
        storage.write_text(built, "".join(f"{key}\n" for key in sorted(keys)))
    return params


def _named(where: str, check_one: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Run one check; whatever it raises becomes a PipelineError that starts with `where`."""
    try:
        check_one(*args, **kwargs)
    except PipelineError as err:
        raise PipelineError(f"{where}: {err}") from None
    except Exception as err:  # scikit-learn and Keras raise many types here: each means a bad value
        raise PipelineError(f"{where}: {type(err).__name__}: {err}") from None


def check_sklearn(model: config.SklearnModelConfig, n_jobs: int) -> None:
    """Build the unfitted pipeline and validate every step's parameters as `fit` would."""
    pipeline = families.get(model.family).build(model, ANY_DATA, 0, n_jobs)
    for _, step in pipeline.steps:
        step._validate_params()  # the constraints check `fit` starts with (sklearn.utils._param_validation)
        _no_stray_values(step)


def _no_stray_values(step: Any) -> None:
    """Values scikit-learn's constraints let through but that are mistakes: a mapping (it passes as
    "array-like", then fails in `fit`) where the constraints name no `dict` (`class_weight`), an
    infinite or NaN number, and true/false where the default is a number (a bool is an int to Python)."""
    constraints = getattr(step, "_parameter_constraints", {})
    defaults = type(step)().get_params(deep=False)
    for key, value in step.get_params(deep=False).items():
        default = defaults.get(key)
        if isinstance(value, dict) and dict not in constraints.get(key, [dict]):
            problem = "takes no mapping"
        elif isinstance(value, float) and not math.isfinite(value):
            problem = "takes a finite number"
        elif isinstance(value, bool) and isinstance(default, int | float) and not isinstance(default, bool):
            problem = f"takes a number (default {default!r}), not true/false"
        else:
            continue
        raise PipelineError(f"the {key!r} parameter of {type(step).__name__} {problem}, got {value!r}")


def known_schema(name: str, cfg: DatasetConfig) -> Schema | None:
    """The processed data's schema as far as the params fix it (no data read), or None (a CSV's width)."""
    if cfg.source == "sklearn":
        shape = IMAGE_SHAPES.get(cfg.name) or (TABLE_WIDTHS[cfg.name],)
        layout = "image" if cfg.name in IMAGE_SHAPES else "tabular"
        return Schema(name, "classification", layout, shape, N_CLASSES[cfg.name])
    if cfg.source == "statsmodels":
        return Schema(name, "forecast", "sequence", (cfg.window, 1))
    if cfg.source in ("idx", "cifar", "imagefolder"):
        shape = {"idx": (28, 28, 1), "cifar": (32, 32, 3)}.get(cfg.source)
        if cfg.source == "imagefolder":
            shape = (*cfg.image_size, 3 if cfg.color_mode == "rgb" else 1)
        return Schema(name, "classification", "image", shape, 10)
    if cfg.source in ("text", "keras_npz"):
        vocabulary = tuple(str(i) for i in range(cfg.encoding.vocab_size))
        if getattr(cfg, "task", "classification") == "language_model":
            shape, n_classes, task = (cfg.window,), len(vocabulary), "language_model"
        else:
            shape, n_classes, task = (cfg.encoding.max_length,), 2, "classification"
        return Schema(name, task, "text", shape, n_classes, vocabulary=vocabulary, tokens=cfg.encoding.tokens)
    return None


def check_keras(experiment: config.Experiment, schema: Schema) -> None:
    """Build the experiment's model on its dataset's known input; families whose building fetches
    weights (transfer) are left to `train`."""
    if not families.get(experiment.model.family).check_builds:
        return
    from pipeline.backends.keras import builders

    with builders.throwaway():
        model = building.build(experiment.model, schema, experiment.seed, name=experiment.model_name)
        builders.check_windows(model, experiment.model_name)
