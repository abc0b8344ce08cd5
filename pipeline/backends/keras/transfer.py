"""Transfer learning: a keras.applications backbone (no top) under a new softmax head.

The model: Resizing to `input_size` -> grey images repeated to 3 channels -> Rescaling from the processed
[0, 1] pixels to the backbone's input range -> backbone -> global pooling -> dropout -> softmax. Only
stock layers (no Lambda), so the saved model loads in safe mode. Training (pipeline.backends.keras.fit)
runs phase 1 with the backbone frozen, then optionally phase 2 with its top layers unfrozen
(`set_phase`); batch normalisation stays frozen in both, which in Keras 3 also keeps it in inference mode.

Pretrained weights (`weights: {url, sha256 or md5, mirror}`; null trains from random weights) are
fetched once, mirror first (`weights.mirror`, or PIPELINE_MIRROR_KERAS_WEIGHTS: a directory, file:// or
http(s):// base holding the file under its own name), into the cache PIPELINE_WEIGHTS_CACHE (default
$XDG_CACHE_HOME/dvc-ml-pipeline/weights, i.e. ~/.cache/...) as <digest>/<file name>, and verified again
before every use. A wrong digest stops the build (ChecksumError) before any training.

The published ImageNet weights are those keras.applications downloads, without the top, e.g.

    weights:   # efficientnet_b0; Keras pins this file's md5 in keras/src/applications/efficientnet.py
      url: https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5
      md5: 50bc09e76180e00e4465e1a485ddc09d

    weights:   # mobilenet_v2 with alpha 1.0 (the file name gives alpha and the training size)
      url: https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5
      sha256: <sha256sum of the file you downloaded once>   # Keras pins no digest for MobileNetV2
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import keras
from keras import layers

from pipeline.config import PretrainedWeights, TransferModel
from pipeline.core.errors import PipelineError
from pipeline.datasets import download

logger = logging.getLogger(__name__)

BACKBONE = "backbone"  # the backbone's layer name in the built model
CACHE_ENV = "PIPELINE_WEIGHTS_CACHE"
MIRROR_NAME = "keras_weights"  # PIPELINE_MIRROR_KERAS_WEIGHTS
# keras.applications' ImageNet statistics (imagenet_utils); EfficientNet's published files need them
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STDDEV = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Backbone:
    """A keras.applications constructor; (scale, offset) maps [0, 1] pixels to its inputs."""

    make: Callable[..., keras.Model]
    scale: float
    offset: float


BACKBONES = {
    "mobilenet_v2": Backbone(keras.applications.MobileNetV2, 2.0, -1.0),  # inputs in [-1, 1]
    "efficientnet_b0": Backbone(keras.applications.EfficientNetB0, 255.0, 0.0),  # [0, 255], normalised inside
}


def build(cfg: TransferModel, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    """The uncompiled model in phase 1 (backbone frozen), its weights fetched and loaded first if pinned."""
    weights = fetch_weights(cfg.weights) if cfg.weights is not None else None
    spec = BACKBONES[cfg.backbone]
    options = {"alpha": cfg.alpha} if cfg.backbone == "mobilenet_v2" else {}
    backbone = spec.make(
        input_shape=(cfg.input_size, cfg.input_size, 3),
        include_top=False,
        weights=None,
        name=BACKBONE,
        **options,
    )
    scale, offset = spec.scale, spec.offset
    if weights is not None:
        load_weights(backbone, weights)
        if cfg.backbone == "efficientnet_b0" and _published_format(weights):
            scale, offset = _efficientnet_imagenet_input()
    inputs = keras.Input(shape=input_shape, name="x")
    x = layers.Resizing(cfg.input_size, cfg.input_size)(inputs)
    if input_shape[-1] == 1:
        x = layers.Concatenate()([x, x, x])
    x = layers.Rescaling(scale, offset)(x)
    x = backbone(x)
    x = layers.GlobalAveragePooling2D()(x) if cfg.pooling == "avg" else layers.GlobalMaxPooling2D()(x)
    if cfg.dropout_rate:
        x = layers.Dropout(cfg.dropout_rate)(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="output")(x)
    model = keras.Model(inputs, outputs, name=f"transfer_{cfg.backbone}")
    set_phase(model, fine_tune_layers=0)
    return model


def set_phase(model: keras.Model, *, fine_tune_layers: int) -> None:
    """Freeze the backbone except its top `fine_tune_layers` layers (0: all frozen); batch normalisation
    always stays frozen. Compile the model (again) afterwards for the change to take effect."""
    backbone = model.get_layer(BACKBONE)
    backbone.trainable = True
    first = len(backbone.layers) - fine_tune_layers
    for i, layer in enumerate(backbone.layers):
        layer.trainable = i >= first and not isinstance(layer, layers.BatchNormalization)


def cache_dir() -> Path:
    """Where verified weight files are kept: PIPELINE_WEIGHTS_CACHE, else the user's cache directory."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dvc-ml-pipeline" / "weights"


def fetch_weights(spec: PretrainedWeights) -> Path:
    """The verified local copy of the weights file `spec`: from the cache, else fetched (mirror first)."""
    algorithm, digest = ("sha256", spec.sha256) if spec.sha256 else ("md5", spec.md5)
    path = cache_dir() / digest / Path(urlparse(spec.url).path).name
    if path.exists():
        if _digest(path, algorithm) == digest:
            return path
        logger.warning("cached %s does not match its pinned %s: fetching it again", path, algorithm)
    mirror = download.mirror_for(MIRROR_NAME, spec.mirror)
    hint = (
        "To use these weights offline, put the file in a directory and point weights.mirror "
        f"(or {download.mirror_env_var(MIRROR_NAME)}) at it, or set `weights: null` to train from scratch."
    )
    download.check_mirror(mirror, hint)
    return download.fetch_remote(spec, path, mirror=mirror, hint=hint, decompress=False)


def load_weights(backbone: keras.Model, path: Path) -> None:
    try:
        backbone.load_weights(path)
    except (ValueError, KeyError, OSError) as err:
        raise PipelineError(
            f"weights file {path.name} does not fit the backbone {backbone.name!r} ({err}); "
            "pin the file made for this backbone (and, for mobilenet_v2, this alpha)"
        ) from None


def _digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def _published_format(path: Path) -> bool:
    """keras.applications' published files are legacy HDF5 (`.h5`); Keras 3 saves `.weights.h5`."""
    return not path.name.endswith(".weights.h5")


def _efficientnet_imagenet_input() -> tuple[list[float], list[float]]:
    """(scale, offset) per channel reproducing Keras' correction for EfficientNet's published weights,
    whose normalisation must be followed by a rescaling by 1 / sqrt(stddev) (tensorflow#49930; Keras adds
    that layer only for weights="imagenet"). The same correction applied before the normalisation:
    x -> mean + (x - mean) * k, k = 1 / sqrt(stddev), in the backbone's [0, 255] units."""
    k = [stddev**-0.5 for stddev in IMAGENET_STDDEV]
    scale = [255.0 * factor for factor in k]
    offset = [255.0 * mean * (1 - factor) for mean, factor in zip(IMAGENET_MEAN, k, strict=True)]
    return scale, offset
