"""Fit a Keras experiment through tf.data, with callbacks for early stopping, LR control and resuming.

With `backup_dir` a run killed mid-training restarts from its last completed epoch, keeping the
history of the epochs already done.

A transfer model trains in up to two phases, each one `model.fit` with its own backup sub-directory:
the head on the frozen backbone for `train.epochs`, then (fine-tuning) the backbone's top layers
too, numbered on from epoch `train.epochs` to `train.epochs + fine_tune_epochs` in the same history.
A run killed in phase 2 resumes in phase 2 (phase 1 is not repeated).

An LSTM language model trains on the next token at every position of its windows (its history is over
all positions) and is returned as a model of the token after the whole window.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.backends.fit_result import FitResult
from pipeline.config import Experiment, Schedule, Train
from pipeline.core import storage
from pipeline.datasets import vocabulary
from pipeline.datasets.processed import ProcessedData, Split

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.json"


@dataclass(frozen=True)
class _Phase:
    """One `model.fit`: its settings, the epochs it covers and where it backs up (None: no backup)."""

    train: Train
    initial_epoch: int
    epochs: int
    backup: Path | None
    fine_tune_layers: int = 0  # transfer models: backbone layers to unfreeze first (0: none)


def _phases(experiment: Experiment, backup_dir: Path | None) -> list[_Phase]:
    """The fits to run: one, or for a fine-tuned transfer model two (only the second when resuming in it)."""
    train, model_cfg = experiment.train, experiment.model
    phases = [_Phase(train, 0, train.epochs, backup_dir / "keras" if backup_dir else None)]
    if model_cfg.family == "transfer" and model_cfg.fine_tune_epochs:
        optimizer = train.optimizer.model_copy(update={"learning_rate": model_cfg.fine_tune_learning_rate})
        fine_tune = _Phase(
            train.model_copy(update={"optimizer": optimizer, "schedule": Schedule()}),  # a constant rate
            train.epochs,
            train.epochs + model_cfg.fine_tune_epochs,
            backup_dir / "keras-fine-tune" if backup_dir else None,
            model_cfg.fine_tune_layers,
        )
        phases.append(fine_tune)
    for phase in phases:
        if phase.backup is not None:
            _drop_torn_backup(phase.backup)
    if len(phases) == 2 and phases[1].backup is not None and phases[1].backup.exists():
        return phases[1:]  # killed in phase 2: resume there
    return phases


def fit_keras(
    experiment: Experiment,
    data: ProcessedData,
    build: Callable[[], Any],
    *,
    every_step: bool,
    backup_dir: Path | None,
    callbacks: Sequence[Any],
) -> FitResult:
    """Fit the model `build()` makes (called inside the device strategy's scope) on data.train.

    `every_step`: the model learns the next token after every position of a window (a language model).
    """
    import keras
    import tensorflow as tf

    from pipeline.backends.keras import device

    train, seed, schema = experiment.train, experiment.seed, data.schema
    keras.utils.set_random_seed(seed)
    if train.deterministic:
        tf.config.experimental.enable_op_determinism()  # stays on for the process: TF cannot undo it
    info = device.configure(train.device)
    with info.strategy.scope():
        model = build()
    phases = _phases(experiment, backup_dir)
    history = _History(model, phases[-1].epochs, backup_dir / HISTORY_FILE if backup_dir else None)
    train_set = _dataset(data.train, train, seed=seed, shuffle=True, every_step=every_step)
    val_set = _dataset(data.val, train, seed=seed, shuffle=False, every_step=every_step)
    start = time.perf_counter()
    for index, phase in enumerate(phases):
        with info.strategy.scope():
            if index:  # a new model object: the epoch BackupAndRestore restored stays with the old one
                model = history.model = _copy(model)
            if phase.fine_tune_layers:
                from pipeline.backends.keras import transfer

                transfer.set_phase(model, fine_tune_layers=phase.fine_tune_layers)
            _compile(model, phase, len(data.train.x), schema.is_categorical, info.jit_compile)
        model.fit(
            train_set,
            validation_data=val_set,
            initial_epoch=phase.initial_epoch,
            epochs=phase.epochs,
            callbacks=[history.callback(phase.epochs), *_callbacks(phase.train, phase.backup), *callbacks],
            shuffle=False,  # the tf.data pipeline shuffles, with the seed
            verbose=0,
        )
    fit_seconds = time.perf_counter() - start
    if every_step:
        from pipeline.backends.keras import builders

        model = builders.last_step(model)
    if backup_dir is not None:
        shutil.rmtree(backup_dir, ignore_errors=True)  # finished: nothing left to resume
    return FitResult(
        model=model,
        history=history.entries,
        hyperparameters={
            "model": experiment.model.model_dump(mode="json"),
            "train": train.model_dump(mode="json"),
            "seed": seed,
        },
        device=info.description,
        fit_seconds=fit_seconds,
        resumed_from_epoch=history.resumed_from_epoch or 0,
    )


def _compile(model: Any, phase: _Phase, n_train: int, classification: bool, jit_compile: Any) -> None:
    import keras

    steps_per_epoch = math.ceil(n_train / phase.train.batch_size)
    model.compile(
        optimizer=_optimizer(phase.train, total_steps=steps_per_epoch * (phase.epochs - phase.initial_epoch)),
        loss="sparse_categorical_crossentropy" if classification else "mse",
        metrics=(
            ["accuracy"]
            if classification
            else [
                keras.metrics.RootMeanSquaredError(name="rmse"),
                keras.metrics.MeanAbsoluteError(name="mae"),
            ]
        ),
        jit_compile=jit_compile,
    )


def _copy(model: Any) -> Any:
    """The same layers (trainable flags included) and weights in a model that has never been fit."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _dataset(split: Split, train: Train, *, seed: int, shuffle: bool, every_step: bool = False) -> Any:
    """Batches of the split; `every_step`: each window's target is the token after each position."""
    import tensorflow as tf

    y = vocabulary.next_tokens(split.x, split.y) if every_step else split.y
    dataset = tf.data.Dataset.from_tensor_slices((split.x, y)).cache()
    if shuffle:  # after cache, so every epoch gets a new (seeded) order
        dataset = dataset.shuffle(min(train.shuffle_buffer, len(split.x)), seed=seed)
    return dataset.batch(train.batch_size).prefetch(tf.data.AUTOTUNE)


def _optimizer(train: Train, *, total_steps: int) -> Any:
    import keras

    settings = train.optimizer
    learning_rate: Any = settings.learning_rate
    if train.schedule.name == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(settings.learning_rate, total_steps)
    if settings.name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=settings.momentum)
    if settings.name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, momentum=settings.momentum)
    optimizers = {
        "adam": keras.optimizers.Adam,
        "adagrad": keras.optimizers.Adagrad,
        "adadelta": keras.optimizers.Adadelta,
    }
    return optimizers[settings.name](learning_rate)


def _drop_torn_backup(backup: Path) -> None:
    """Keras writes training_metadata.json in place: a kill mid-write leaves a file no resume can read.

    Such a backup is dropped (its phase starts over) rather than crashing every later run.
    """
    metadata = backup / "training_metadata.json"
    if not metadata.exists():
        return
    try:
        json.loads(metadata.read_text())
    except (ValueError, OSError):
        logger.warning("backup in %s is torn (%s unreadable): starting over", backup, metadata.name)
        shutil.rmtree(backup, ignore_errors=True)


def _callbacks(train: Train, backup: Path | None) -> list[Any]:
    """`backup`: BackupAndRestore's own directory (it must not share one with other files)."""
    import keras

    callbacks: list[Any] = []
    if backup is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True))
    if train.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=train.early_stopping_patience, restore_best_weights=True)
        )
    schedule = train.schedule
    if schedule.name == "constant" and train.reduce_lr_patience:
        # only with a constant rate: ReduceLROnPlateau cannot change a schedule object's rate
        callbacks.append(keras.callbacks.ReduceLROnPlateau(patience=train.reduce_lr_patience))
    if schedule.name == "step":
        initial = train.optimizer.learning_rate

        def step_decay(epoch: int, _lr: float) -> float:
            # from the initial rate, not the current one, so a resumed run gets the same rates
            return initial * schedule.step_factor ** (epoch // schedule.step_epochs)

        callbacks.append(keras.callbacks.LearningRateScheduler(step_decay))
    return callbacks


def _history_entry(epoch: int, logs: dict[str, Any], lr: float) -> dict[str, Any]:
    """One flat row per epoch (a CSV row for `dvc plots`, a batch of MLflow metrics)."""
    metrics = {k: float(v) for k, v in logs.items() if k not in ("loss", "val_loss", "learning_rate")}
    return {
        "epoch": epoch,
        "loss": float(logs["loss"]),
        "val_loss": float(logs["val_loss"]) if "val_loss" in logs else None,
        **metrics,
        "lr": lr,
    }


class _History:
    """Per-epoch history, logged and persisted beside the backup so a resumed run keeps it."""

    def __init__(self, model: Any, epochs: int, path: Path | None) -> None:
        self.model = model
        self.epochs = epochs
        self.path = path
        self.entries: list[dict[str, Any]] = []
        self.resumed_from_epoch: int | None = None

    def callback(self, last_epoch: int) -> Any:
        """The callback for one `model.fit` that ends with epoch `last_epoch`."""
        import keras

        return keras.callbacks.LambdaCallback(
            on_train_begin=self._train_begin,
            on_epoch_begin=self._epoch_begin,
            on_epoch_end=self._epoch_end,
            on_train_end=lambda logs: self._train_end(last_epoch),
        )

    def _train_begin(self, logs: dict[str, Any] | None) -> None:
        if not self.entries and self.path and self.path.exists():  # a resumed run: the epochs done before
            self.entries = storage.read_json(self.path)

    def _epoch_begin(self, epoch: int, logs: dict[str, Any] | None) -> None:
        if self.resumed_from_epoch is None:  # BackupAndRestore has set the first epoch by now
            self.resumed_from_epoch = epoch
            self.entries = [entry for entry in self.entries if entry["epoch"] <= epoch]
            if epoch:
                logger.info("resuming from the backup after epoch %d", epoch)

    def _epoch_end(self, epoch: int, logs: dict[str, Any] | None) -> None:
        import keras

        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        entry = _history_entry(epoch + 1, logs or {}, lr)
        self.entries.append(entry)
        if self.path is not None:  # runs before BackupAndRestore saves, so never behind the backup
            storage.write_json(self.path, self.entries)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in entry.items() if k != "epoch" and v is not None)
        logger.info("epoch %d/%d: %s", epoch + 1, self.epochs, shown)

    def _train_end(self, last_epoch: int) -> None:
        if self.resumed_from_epoch is None:  # the backup was already at the last epoch
            self.resumed_from_epoch = last_epoch
