"""The `models:` section: each model's family and settings, per backend.

A family's settings class (a `ModelSettings` with its `backend`) is all the config knows of it; the
backends' unions are made of those classes, and pipeline.models.families declares the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Field, field_validator, model_validator

from pipeline.config.base import Backend, Name, PositiveInt, Rate, Section, Units
from pipeline.config.datasets import RemoteFile

# Names of pipeline.backends.sklearn.baselines.ESTIMATORS (a test keeps them equal), so a misspelt
# estimator fails when params are loaded, without importing scikit-learn. One name, one estimator.
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
# The registry's regressors that predict many outputs at once (scikit-learn's multi_output tag; a test
# keeps them equal): face completion predicts every pixel of the lower half.
FACE_COMPLETION_ESTIMATORS = Literal[
    "extra_trees_regressor",
    "knn_regressor",
    "linear_regression",
    "random_forest_regressor",
    "ridge",
    "ridge_cv",
]
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


class ModelSettings(Section):
    """One model family's settings: `family` names it; `backend` (a class attribute) is its library."""

    backend: ClassVar[Backend]


class SklearnModel(ModelSettings):
    """A scikit-learn estimator by registry name; `hyperparameters` are its keyword arguments.

    `features` (images only) puts a feature step before the estimator; None feeds it the raw pixels.
    """

    backend: ClassVar[Backend] = "sklearn"
    family: Literal["sklearn"]
    estimator: SKLEARN_ESTIMATORS
    hyperparameters: dict[str, Any] = {}
    features: ImageFeatures | None = None


class FaceCompletionModel(ModelSettings):
    """Multi-output regression predicting the lower half of an image from its upper half."""

    backend: ClassVar[Backend] = "sklearn"
    family: Literal["face_completion"]
    estimator: FACE_COMPLETION_ESTIMATORS
    hyperparameters: dict[str, Any] = {}
    n_preview: PositiveInt = 5


class DnnModel(ModelSettings):
    backend: ClassVar[Backend] = "keras"
    family: Literal["dnn"]
    hidden_units: list[PositiveInt] = [128]
    activation: ACTIVATIONS = "relu"
    dropout_rate: Rate = 0.0
    batch_norm: bool = False
    l1: Annotated[float, Field(ge=0)] = 0.0
    l2: Annotated[float, Field(ge=0)] = 0.0


class CnnModel(ModelSettings):
    """Conv blocks -> flatten -> dense head. A block is `convs_per_block` convolutions (one entry of
    `filters` each) then max pooling and dropout; `padding` applies to convolutions and pooling.
    `conv_dropout_rate` / `dense_dropout_rate` override `dropout_rate` after conv blocks / dense layers.
    """

    backend: ClassVar[Backend] = "keras"
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


class LstmModel(ModelSettings):
    """Stacked LSTMs over a sequence, image rows, or token ids (through an Embedding of `embedding_dim`)."""

    backend: ClassVar[Backend] = "keras"
    family: Literal["lstm"]
    units: Units = [64]
    bidirectional: bool = False
    dropout_rate: Rate = 0.0
    embedding_dim: PositiveInt = 64  # token-id input only


class Conv1dModel(ModelSettings):
    """Embedding -> Dropout -> Conv1D blocks (MaxPooling1D between them) -> global max pool -> Dense."""

    backend: ClassVar[Backend] = "keras"
    family: Literal["conv1d"]
    embedding_dim: PositiveInt = 64
    dropout_rate: Rate = 0.2
    filters: Units = [128]
    kernel_size: PositiveInt = 5
    pool_size: PositiveInt = 4
    dense_units: list[PositiveInt] = [64]


class TfidfModel(ModelSettings):
    """TF-IDF features of word or character n-grams feeding a linear classifier, as one Pipeline."""

    backend: ClassVar[Backend] = "sklearn"
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


class TransferModel(ModelSettings):
    """A keras.applications backbone without its top under a new softmax head (see
    pipeline.backends.keras.transfer). Images are resized to `input_size`; grey ones get 3 channels.

    Phase 1 trains the head with the backbone frozen for `train.epochs`; phase 2 (if both
    `fine_tune_layers` and `fine_tune_epochs` are set) unfreezes the backbone's top `fine_tune_layers`
    layers (batch normalisation stays frozen) for `fine_tune_epochs` more, with the same optimizer at a
    constant `fine_tune_learning_rate`.
    `weights: null` starts from random weights.
    """

    backend: ClassVar[Backend] = "keras"
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


def _settings_of(backend: Backend) -> Any:
    """The settings classes of `backend`'s families, told apart by `family`."""
    classes = tuple(cls for cls in ModelSettings.__subclasses__() if cls.backend == backend)
    return Annotated[Union[classes], Field(discriminator="family")]  # noqa: UP007 (a union of a tuple)


KerasModelConfig = _settings_of("keras")
SklearnModelConfig = _settings_of("sklearn")
ModelConfig = KerasModelConfig | SklearnModelConfig


class Models(Section):
    """Models by backend, so a stage can depend on exactly its backend's code and settings."""

    keras: dict[Name, KerasModelConfig] = {}
    sklearn: dict[Name, SklearnModelConfig] = {}
