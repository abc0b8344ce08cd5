"""Typed, validated view of params.yaml: the only reader of the params file.

Every section is a frozen pydantic model that rejects unknown keys, so a typo in
params.yaml or in a `dvc exp run -S` override fails before any work starts with a
message naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML, YAMLError

from pipeline.core.errors import PipelineError

DEFAULT_PARAMS = Path("params.yaml")

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
# The test metrics evaluation writes per task (pipeline.evaluation.scores, pipeline.evaluation.assessment).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
    "forecast": ("rmse", "mae", "r2", "persistence_rmse"),
    "language_model": (
        "accuracy",
        "macro_f1",
        "log_loss",
        "perplexity",
        "bits_per_char",
        "unigram_bits_per_char",
    ),
}
METRICS = sorted({metric for metrics in TASK_METRICS.values() for metric in metrics})
# Registry names of pipeline.backends.sklearn (baselines.ESTIMATORS, face_completion.ESTIMATORS; a test
# keeps them equal), so a misspelt estimator fails when params are loaded, without importing scikit-learn.
SKLEARN_ESTIMATORS = Literal[
    "logistic_regression",
    "random_forest",
    "svc",
    "linear_svc",
    "knn",
    "hist_gradient_boosting",
    "extra_trees",
    "mlp",
    "ridge",
    "ridge_cv",
    "linear_regression",
    "random_forest_regressor",
    "extra_trees_regressor",
    "hist_gradient_boosting_regressor",
    "knn_regressor",
]
FACE_COMPLETION_ESTIMATORS = Literal["extra_trees", "knn", "linear_regression", "ridge_cv"]
# keras.activations by name (a test keeps them equal to Keras' own)
ACTIVATIONS = Literal[
    "celu",
    "elu",
    "exponential",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
]


class Section(BaseModel):
    """Strict: no bool or float for an int, no string for a number, finite floats only, no unknown key."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# --- datasets ------------------------------------------------------------------------------


class Split(Section):
    val_size: Share = 0.15
    test_size: Share = 0.2

    @model_validator(mode="after")
    def _leaves_training_data(self) -> Split:
        if self.val_size + self.test_size >= 0.9:
            raise ValueError(
                f"val_size + test_size = {self.val_size + self.test_size:.2f} leaves too little to train on "
                "(must be below 0.9)"
            )
        return self


class SklearnSource(Section):
    """A data set bundled with scikit-learn (no download)."""

    source: Literal["sklearn"]
    name: Literal["digits", "iris", "wine", "breast_cancer"]
    split: Split = Split()


class RemoteFile(Section):
    """One file of a remote data set: where it lives and the digest of its bytes.

    `sha256` is of the payload (a `.gz` file decompressed, unless the source keeps it whole). `md5`
    only where upstream publishes nothing stronger (Keras' word-index JSON files): give one of them.
    """

    url: str
    sha256: Sha256 | None = None
    md5: Md5 | None = None

    @model_validator(mode="after")
    def _one_digest(self) -> RemoteFile:
        if (self.sha256 is None) == (self.md5 is None):
            raise ValueError("give exactly one of sha256 and md5 (the pinned digest of the file)")
        return self


class Mirrored(Section):
    """A remote data set that a mirror can serve: `mirror` (a directory, file:// or http(s):// base)
    is tried before the canonical URLs; PIPELINE_MIRROR_<DATASET> overrides it. `mirror_package`
    names a Debian package that installs the files into `mirror`."""

    mirror: str | None = None
    mirror_package: str | None = None


def _require_files(files: dict[str, RemoteFile], roles: tuple[str, ...]) -> None:
    missing = set(roles) - set(files)
    if missing:
        raise ValueError(f"files is missing {sorted(missing)}")


class IdxSource(Mirrored):
    """MNIST-format IDX files (`.gz` or plain), fetched from a mirror or their canonical URLs.

    `files` maps the roles train_images / train_labels / test_images / test_labels to a RemoteFile.
    """

    source: Literal["idx"]
    files: dict[Literal["train_images", "train_labels", "test_images", "test_labels"], RemoteFile]
    class_names: list[str] | None = None
    split: Split = Split(val_size=0.1, test_size=0.2)  # test_size unused: IDX sets ship their test split

    @model_validator(mode="after")
    def _has_all_files(self) -> IdxSource:
        _require_files(self.files, ("train_images", "train_labels", "test_images", "test_labels"))
        return self


class StatsmodelsSource(Section):
    """A time series bundled with statsmodels, windowed for one-step-ahead forecasting."""

    source: Literal["statsmodels"]
    name: Literal["sunspots", "co2"]
    window: PositiveInt = 12
    split: Split = Split()


class CsvSource(Section):
    """A user's CSV file (local path or http(s) URL) with a target column.

    Classification / regression use `features` (default: every column but `target` and `time`) less
    `drop`; string columns among them are encoded by `categorical`, fitted on the training split. A
    forecast's windows hold the target's history plus that of each of `features` (default: none).
    """

    source: Literal["csv"]
    path: str
    target: str
    task: TabularTask = "classification"
    time: str | None = None
    features: list[str] | None = None
    drop: list[str] = []
    categorical: Literal["onehot", "ordinal"] = "onehot"
    sha256: Sha256 | None = None
    window: PositiveInt = 12
    split: Split = Split()

    @model_validator(mode="after")
    def _forecast_needs_order(self) -> CsvSource:
        if self.task == "forecast" and self.time is None:
            raise ValueError("task 'forecast' needs a `time` column to order the series by")
        return self

    @model_validator(mode="after")
    def _columns_consistent(self) -> CsvSource:
        if self.features is not None and self.drop:
            raise ValueError("give `features` (columns to use) or `drop` (columns to leave out), not both")
        if self.task == "forecast" and self.drop:
            raise ValueError("a forecast uses the target and the columns listed in `features`: remove `drop`")
        for key in ("features", "drop"):
            listed = getattr(self, key) or []
            for column, role in ((self.target, "target"), (self.time, "time")):
                if column in listed:
                    raise ValueError(f"{key} lists {column!r}, the {role} column: remove it from {key}")
        return self


class TextEncoding(Section):
    """How documents become token ids (the vocabulary is fitted on the training split only).

    Ids: 0 is padding, 1 an unknown token, then the `vocab_size - 2` commonest training tokens.
    Classification documents are cut to their first `max_length` tokens and padded in front.
    """

    tokens: Literal["word", "char"] = "word"
    vocab_size: Annotated[int, Field(ge=3)] = 10_000
    max_length: PositiveInt = 200
    lowercase: bool = True
    min_count: PositiveInt = 1  # rarer training tokens become unknown


class TextSource(Section):
    """Labelled documents: a CSV (text + label columns), a directory with one sub-directory or file per
    label, or fortune files (`%`-separated entries, one file per label).

    `task: language_model` ignores the labels: documents are split (by document, so no text is shared
    between splits) and cut into windows of `window` tokens, each predicting the next token.
    """

    source: Literal["text"]
    path: str
    format: Literal["csv", "folders", "fortune"]
    text_column: str = "text"  # csv
    label_column: str = "label"  # csv
    categories: list[str] | None = None  # labels to keep (file / sub-directory / CSV label); None: all
    package: str | None = None  # a Debian package that installs `path`
    task: Literal["classification", "language_model"] = "classification"
    encoding: TextEncoding = TextEncoding()
    window: PositiveInt = 40  # language_model: tokens of context per sample
    stride: PositiveInt = 3  # language_model: tokens between the starts of consecutive windows
    split: Split = Split()

    @model_validator(mode="after")
    def _character_language_model(self) -> TextSource:
        if self.task == "language_model" and self.encoding.tokens != "char":
            raise ValueError("task language_model is character-level: set encoding.tokens to char")
        return self

    @model_validator(mode="after")
    def _categories_are_file_names(self) -> TextSource:
        if self.format == "csv":
            return self
        for category in self.categories or ():
            if not category or category in (".", "..") or "/" in category or "\\" in category:
                raise ValueError(
                    f"categories: {category!r} is not a file or folder name inside `path` (no separators)"
                )
        return self


class KerasNpzSource(Mirrored):
    """IMDB / Reuters in Keras' `.npz` layout (word-id sequences) plus their word-index JSON.

    `files` maps `data` and `word_index` to a RemoteFile; the ids are turned back into words and
    encoded like any text data set, so `encoding` applies (vocabulary fitted on train only).
    """

    source: Literal["keras_npz"]
    name: Literal["imdb", "reuters"]
    files: dict[Literal["data", "word_index"], RemoteFile]
    encoding: TextEncoding = TextEncoding()
    class_names: list[str] | None = None
    split: Split = Split(val_size=0.1, test_size=0.2)  # test_size unused: both ship a test split

    @model_validator(mode="after")
    def _has_all_files(self) -> KerasNpzSource:
        _require_files(self.files, ("data", "word_index"))
        return self


class CifarSource(Mirrored):
    """CIFAR-10 / CIFAR-100 from the canonical **binary** archive (no pickle), extracted safely."""

    source: Literal["cifar"]
    name: Literal["cifar10", "cifar100"]
    archive: RemoteFile
    label: Literal["fine", "coarse"] = "fine"  # cifar100: 100 classes or 20 superclasses
    split: Split = Split(val_size=0.1, test_size=0.2)  # test_size unused: CIFAR ships its test split


class ImageFolderSource(Mirrored):
    """A directory with one sub-directory of images per class, or an archive holding one.

    Images are decoded, converted to `color_mode` and resized to `image_size` (height, width).
    With `archive`, `path` is the directory inside the extracted archive.
    """

    source: Literal["imagefolder"]
    path: str
    archive: RemoteFile | None = None
    image_size: Annotated[tuple[PositiveInt, PositiveInt], Field(strict=False)] = (64, 64)  # YAML has lists
    color_mode: Literal["rgb", "grayscale"] = "rgb"
    split: Split = Split()


DatasetConfig = Annotated[
    SklearnSource
    | IdxSource
    | StatsmodelsSource
    | CsvSource
    | TextSource
    | KerasNpzSource
    | CifarSource
    | ImageFolderSource,
    Field(discriminator="source"),
]


# --- models --------------------------------------------------------------------------------


class ImageFeatures(Section):
    """Hand-made image features computed inside the saved model, which still takes raw images.

    `hog`: histograms of oriented gradients of the grey image (colour images are converted to grey)
    with `orientations` bins, square cells of `pixels_per_cell` and blocks of `cells_per_block` cells;
    `color_histogram`: a normalised histogram of `bins` bins over [0, 1] per channel; `hog+color_histogram`
    both, side by side.
    """

    kind: Literal["hog", "color_histogram", "hog+color_histogram"]
    orientations: Annotated[int, Field(ge=2, le=180)] = 9
    pixels_per_cell: PositiveInt = 4
    cells_per_block: PositiveInt = 2
    bins: Annotated[int, Field(ge=2, le=256)] = 16


class SklearnModel(Section):
    """A scikit-learn estimator by registry name; `hyperparameters` are its keyword arguments.

    `features` (images only) puts a feature step before the estimator; None feeds it the raw pixels.
    """

    family: Literal["sklearn"]
    estimator: SKLEARN_ESTIMATORS
    hyperparameters: dict[str, Any] = {}
    features: ImageFeatures | None = None


class FaceCompletionModel(Section):
    """Multi-output regression predicting the lower half of an image from its upper half."""

    family: Literal["face_completion"]
    estimator: FACE_COMPLETION_ESTIMATORS
    hyperparameters: dict[str, Any] = {}
    n_preview: PositiveInt = 5


class DnnModel(Section):
    family: Literal["dnn"]
    hidden_units: list[PositiveInt] = [128]
    activation: ACTIVATIONS = "relu"
    dropout_rate: Rate = 0.0
    batch_norm: bool = False
    l1: Annotated[float, Field(ge=0)] = 0.0
    l2: Annotated[float, Field(ge=0)] = 0.0


class CnnModel(Section):
    """Conv blocks -> flatten -> dense head. A block is `convs_per_block` convolutions (one entry of
    `filters` each) then max pooling and dropout; `padding` applies to convolutions and pooling.
    `conv_dropout_rate` / `dense_dropout_rate` override `dropout_rate` after conv blocks / dense layers.
    """

    family: Literal["cnn"]
    filters: Units = [32, 64]
    kernel_size: PositiveInt = 3
    pool_size: PositiveInt = 2
    padding: Literal["same", "valid"] = "same"
    convs_per_block: PositiveInt = 1
    batch_norm: bool = False
    dropout_rate: Rate = 0.0
    conv_dropout_rate: Rate | None = None
    dense_dropout_rate: Rate | None = None
    dense_units: list[PositiveInt] = [128]

    @model_validator(mode="after")
    def _whole_blocks(self) -> CnnModel:
        if len(self.filters) % self.convs_per_block:
            raise ValueError(
                f"{len(self.filters)} filters do not make whole blocks of convs_per_block "
                f"{self.convs_per_block}: give a multiple of {self.convs_per_block} filters"
            )
        return self


class LstmModel(Section):
    """Stacked LSTMs over a sequence, image rows, or token ids (through an Embedding of `embedding_dim`)."""

    family: Literal["lstm"]
    units: Units = [64]
    bidirectional: bool = False
    dropout_rate: Rate = 0.0
    embedding_dim: PositiveInt = 64  # token-id input only


class Conv1dModel(Section):
    """Embedding -> Dropout -> Conv1D blocks (MaxPooling1D between them) -> global max pool -> Dense."""

    family: Literal["conv1d"]
    embedding_dim: PositiveInt = 64
    dropout_rate: Rate = 0.2
    filters: Units = [128]
    kernel_size: PositiveInt = 5
    pool_size: PositiveInt = 4
    dense_units: list[PositiveInt] = [64]


class TfidfModel(Section):
    """TF-IDF features of word or character n-grams feeding a linear classifier, as one Pipeline."""

    family: Literal["tfidf"]
    analyzer: Literal["word", "char_wb"] = "word"
    ngram_range: Annotated[tuple[PositiveInt, PositiveInt], Field(strict=False)] = (1, 2)  # YAML has lists
    max_features: PositiveInt | None = 50_000
    sublinear_tf: bool = True
    estimator: SKLEARN_ESTIMATORS = "logistic_regression"
    hyperparameters: dict[str, Any] = {}

    @field_validator("ngram_range", mode="after")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError(f"[min_n, max_n] needs min_n <= max_n, got {list(value)}")
        return value


class PretrainedWeights(RemoteFile):
    """A weights file for a transfer backbone: URL (or local path), pinned digest and an optional
    `mirror` (directory, file:// or http(s):// base holding the file under its own name), which
    PIPELINE_MIRROR_KERAS_WEIGHTS overrides."""

    mirror: str | None = None


class TransferModel(Section):
    """A keras.applications backbone without its top under a new softmax head (see
    pipeline.backends.keras.transfer). Images are resized to `input_size`; grey ones get 3 channels.

    Phase 1 trains the head with the backbone frozen for `train.epochs`; phase 2 (if both
    `fine_tune_layers` and `fine_tune_epochs` are set) unfreezes the backbone's top `fine_tune_layers`
    layers (batch normalisation stays frozen) for `fine_tune_epochs` more, with the same optimizer at a
    constant `fine_tune_learning_rate`.
    `weights: null` starts from random weights.
    """

    family: Literal["transfer"]
    backbone: Literal["mobilenet_v2", "efficientnet_b0"] = "mobilenet_v2"
    alpha: Annotated[float, Field(gt=0)] = 1.0  # mobilenet_v2's width multiplier
    input_size: Annotated[int, Field(ge=32)] = 96
    weights: PretrainedWeights | None = None
    pooling: Literal["avg", "max"] = "avg"
    dropout_rate: Rate = 0.2
    fine_tune_layers: Annotated[int, Field(ge=0)] = 0
    fine_tune_epochs: Annotated[int, Field(ge=0)] = 0
    fine_tune_learning_rate: Annotated[float, Field(gt=0)] = 1e-5

    @model_validator(mode="after")
    def _consistent(self) -> TransferModel:
        if self.alpha != 1.0 and self.backbone != "mobilenet_v2":
            raise ValueError(f"alpha is mobilenet_v2's width multiplier; remove it for {self.backbone}")
        if bool(self.fine_tune_layers) != bool(self.fine_tune_epochs):
            raise ValueError("fine-tuning needs both fine_tune_layers and fine_tune_epochs (or neither)")
        return self


KerasModelConfig = Annotated[
    DnnModel | CnnModel | LstmModel | Conv1dModel | TransferModel, Field(discriminator="family")
]
SklearnModelConfig = Annotated[SklearnModel | FaceCompletionModel | TfidfModel, Field(discriminator="family")]
ModelConfig = KerasModelConfig | SklearnModelConfig
KERAS_FAMILIES = ("dnn", "cnn", "lstm", "conv1d", "transfer")
Backend = Literal["keras", "sklearn"]


class Models(Section):
    """Models by backend, so a stage can depend on exactly its backend's code and settings."""

    keras: dict[Name, KerasModelConfig] = {}
    sklearn: dict[Name, SklearnModelConfig] = {}


# --- training ------------------------------------------------------------------------------


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


class ExperimentSpec(Section):
    dataset: Name
    backend: Backend
    model: Name  # a key of models.<backend>
    train: TrainOverrides = TrainOverrides()  # Keras experiments only


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


PROMOTE_METRICS = {
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
            if metric not in TASK_METRICS[task]:
                raise ValueError(
                    f"{task}: no test metric {metric!r} for this task; "
                    f"use one of {', '.join(TASK_METRICS[task])}"
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
        unknown = sorted(set(value) - set(METRICS))
        if unknown:
            raise ValueError(f"no test metric {', '.join(unknown)}; use one of {', '.join(METRICS)}")
        return value

    @model_validator(mode="after")
    def _one_tolerance_per_metric(self) -> Gate:
        both = sorted(set(self.tolerance) & set(self.relative_tolerance))
        if both:
            raise ValueError(f"{', '.join(both)}: give either tolerance or relative_tolerance, not both")
        return self


class Params(Section):
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 42  # NumPy's seed range
    datasets: dict[Name, DatasetConfig]
    models: Models = Models()
    experiments: dict[Name, ExperimentSpec] = {}
    train: TrainSettings = TrainSettings()
    mlflow: Mlflow = Mlflow()
    promote: Promote = Promote()
    gate: Gate = Gate()

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
        lines.append(f"  {where}: {item['msg']}{shown}")
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
