"""Keras 3 functional builders: shapes positional, hyperparameters keyword-only, uncompiled models out.

A family's settings (pipeline.config.models) hold the hyperparameters' defaults; the builders take
every one of them, plus what the data decides (`vocab_size`, `mask_padding`, `every_step`).
`n_classes` set means a softmax head over the classes; `None` means one linear unit (regression or
forecast). The head is float32 even under a mixed_float16 policy, so losses stay numerically stable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
from keras import layers

from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import Schema

SLIDING_LAYERS = ("Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D")


def _head(features: keras.KerasTensor, n_classes: int | None) -> keras.KerasTensor:
    if n_classes is None:
        return layers.Dense(1, dtype="float32", name="output")(features)
    return layers.Dense(n_classes, activation="softmax", dtype="float32", name="output")(features)


def _dense_block(
    x: keras.KerasTensor,
    units: int,
    *,
    activation: str,
    batch_norm: bool,
    dropout_rate: float,
    regularizer: keras.regularizers.Regularizer | None = None,
) -> keras.KerasTensor:
    x = layers.Dense(units, use_bias=not batch_norm, kernel_regularizer=regularizer)(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    x = layers.Activation(activation)(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate)(x)
    return x


def build_dnn(
    input_shape: tuple[int, ...],
    n_classes: int | None,
    *,
    hidden_units: Sequence[int],
    activation: str,
    dropout_rate: float,
    batch_norm: bool,
    l1: float,
    l2: float,
) -> keras.Model:
    """Flatten -> dense blocks (Dense, optional BatchNorm, activation, dropout) -> head."""
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if l1 or l2 else None
    inputs = keras.Input(shape=input_shape, name="x")
    x = layers.Flatten()(inputs)
    for units in hidden_units:
        x = _dense_block(
            x,
            units,
            activation=activation,
            batch_norm=batch_norm,
            dropout_rate=dropout_rate,
            regularizer=regularizer,
        )
    return keras.Model(inputs, _head(x, n_classes), name="dnn")


def build_cnn(
    input_shape: tuple[int, ...],
    n_classes: int | None,
    *,
    filters: Sequence[int],
    kernel_size: int,
    pool_size: int,
    padding: str,
    convs_per_block: int,
    batch_norm: bool,
    dropout_rate: float,
    conv_dropout_rate: float | None,
    dense_dropout_rate: float | None,
    dense_units: Sequence[int],
) -> keras.Model:
    """Conv blocks -> flatten -> dense head. A block: `convs_per_block` x (Conv2D, optional BatchNorm,
    ReLU), then MaxPooling and dropout. `padding` applies to convolutions and pooling ("same" never
    shrinks a side below 1, so small images take any number of blocks)."""
    if len(input_shape) != 3:
        raise ValueError(f"build_cnn needs an image input shape (H, W, C), got {input_shape}")
    conv_dropout = dropout_rate if conv_dropout_rate is None else conv_dropout_rate
    dense_dropout = dropout_rate if dense_dropout_rate is None else dense_dropout_rate
    inputs = keras.Input(shape=input_shape, name="x")
    x = inputs
    for i, n_filters in enumerate(filters, start=1):
        x = layers.Conv2D(n_filters, kernel_size, padding=padding, use_bias=not batch_norm)(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        if i % convs_per_block:
            continue
        x = layers.MaxPooling2D(pool_size, padding=padding)(x)
        if conv_dropout:
            x = layers.Dropout(conv_dropout)(x)
    x = layers.Flatten()(x)
    for units in dense_units:
        x = _dense_block(x, units, activation="relu", batch_norm=batch_norm, dropout_rate=dense_dropout)
    return keras.Model(inputs, _head(x, n_classes), name="cnn")


def build_lstm(
    input_shape: tuple[int, ...],
    n_classes: int | None,
    *,
    units: Sequence[int],
    bidirectional: bool,
    dropout_rate: float,
    embedding_dim: int,
    vocab_size: int | None = None,
    mask_padding: bool = True,
    every_step: bool = False,
) -> keras.Model:
    """Stacked (optionally bidirectional) LSTMs -> head.

    An image (H, W, C) is read as H steps of W*C; token ids (length,) with `vocab_size` go through an
    Embedding of `embedding_dim` that (with `mask_padding`) masks the padding id 0. With `every_step`
    (a language model in training) the head runs at every step, giving (n, steps, n_classes):
    `last_step` turns the trained model into one that predicts what follows the whole input.
    """
    if every_step and bidirectional:
        raise ValueError("an every-step (language) model reads left to right: set bidirectional to false")
    if vocab_size is None and len(input_shape) not in (2, 3):
        raise ValueError(
            f"build_lstm needs a sequence (steps, features) or image (H, W, C) input shape, got {input_shape}"
        )
    inputs = keras.Input(shape=input_shape, name="x", dtype="int32" if vocab_size else None)
    x = inputs
    if vocab_size is not None:
        x = layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_padding)(x)
    elif len(input_shape) == 3:
        height, width, channels = input_shape
        x = layers.Reshape((height, width * channels))(x)
    for i, n_units in enumerate(units):
        lstm = layers.LSTM(n_units, return_sequences=every_step or i < len(units) - 1)
        x = layers.Bidirectional(lstm)(x) if bidirectional else lstm(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate)(x)
    return keras.Model(inputs, _head(x, n_classes), name="lstm")


def build_conv1d(
    input_shape: tuple[int, ...],
    n_classes: int | None,
    *,
    vocab_size: int,
    embedding_dim: int,
    dropout_rate: float,
    filters: Sequence[int],
    kernel_size: int,
    pool_size: int,
    dense_units: Sequence[int],
) -> keras.Model:
    """The classic text CNN: Embedding -> Dropout -> Conv1D blocks (MaxPooling1D between them) ->
    GlobalMaxPooling1D -> dense blocks -> head, over token ids (length,)."""
    if len(input_shape) != 1:
        raise ValueError(f"build_conv1d needs token ids of shape (length,), got {input_shape}")
    inputs = keras.Input(shape=input_shape, name="x", dtype="int32")
    x = layers.Embedding(vocab_size, embedding_dim)(inputs)
    if dropout_rate:
        x = layers.Dropout(dropout_rate)(x)
    for i, n_filters in enumerate(filters):
        if i:
            x = layers.MaxPooling1D(pool_size, padding="same")(x)
        x = layers.Conv1D(n_filters, kernel_size, padding="same", activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    for units in dense_units:
        x = _dense_block(x, units, activation="relu", batch_norm=False, dropout_rate=dropout_rate)
    return keras.Model(inputs, _head(x, n_classes), name="conv1d")


def last_step(model: keras.Model) -> keras.Model:
    """The model's prediction at its last step only (same layers and weights): (n, steps, k) -> (n, k)."""
    steps, width = model.output.shape[1:]
    last = layers.Cropping1D((steps - 1, 0), name="last_step")(model.output)
    return keras.Model(model.inputs, layers.Reshape((width,), name="next")(last), name=model.name)


def build(builder: Callable[..., keras.Model], schema: Schema, seed: int, **settings: Any) -> keras.Model:
    """`builder(input_shape, n_classes, **settings)` for the data, Python, NumPy and Keras seeded with
    `seed` first, so initial weights are reproducible."""
    keras.utils.set_random_seed(seed)
    n_classes = schema.n_classes if schema.is_categorical else None
    return builder(tuple(schema.input_shape), n_classes, **settings)


@contextlib.contextmanager
def throwaway() -> Iterator[None]:
    """Models built inside are dropped afterwards (the params check builds one per experiment)."""
    try:
        yield
    finally:
        keras.backend.clear_session()


def check_windows(model: keras.Model, name: str) -> None:
    """No convolution kernel or pooling window may be wider than the feature map it slides over."""
    for layer in model.layers:
        if type(layer).__name__ not in SLIDING_LAYERS:
            continue
        window = getattr(layer, "kernel_size", None) or layer.pool_size
        steps = tuple(layer.input.shape[1 : 1 + len(window)])
        if any(size > step for size, step in zip(window, steps, strict=True)):
            option = "kernel_size" if hasattr(layer, "kernel_size") else "pool_size"
            raise PipelineError(
                f"model {name!r}: {option} {window[0]} is wider than the {'x'.join(map(str, steps))} input "
                f"of layer {layer.name}: lower {option} (or use fewer blocks)"
            )
