"""Benchmark 4: training throughput (samples/s) of the DNN, CNN and LSTM on Fashion-MNIST.

Each model of fashion/params.yaml, built by the pipeline's builders (`pipeline.models.build`) and compiled
with the suite's optimizer and batch size, trains on the same images fed (a) as NumPy arrays straight to
`model.fit` and (b) through the pipeline's own tf.data input (`pipeline.backends.keras.fit._dataset`:
cache, seeded shuffle, batch, prefetch), each with XLA (`jit_compile`) off and on. An epoch's throughput
is images / epoch wall time; the first epoch of every fit (tracing, XLA compilation) is dropped and the
median of the others reported. The variants of a model run back to back in one process, in an order
that rotates between rounds, so the ratios come from side-by-side runs.

`--quick`: a sixth of the images and one round instead of two. On a GPU: `--batch-size 512
--mixed-precision` measures what a GPU gains from (see bench/README.md).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from bench import cli, commands, fashion, results
from pipeline.core import markdown
from pipeline.workflow.project_copy import ROOT

log = logging.getLogger("bench.throughput")

# Per variant and round: 1 warm-up + 2 timed epochs, on a number of images per model that keeps an epoch
# of the slowest variant bounded (XLA makes the CNN ~10x slower on a CPU) and one of the fastest long
# enough to time (the DNN).
FULL = {"n_train": {"dense128": 24_000, "cnn": 6_000, "lstm": 6_000}, "epochs": 3, "rounds": 2}
QUICK = {"n_train": {"dense128": 4_096, "cnn": 1_024, "lstm": 1_024}, "epochs": 3, "rounds": 1}
MODELS = {"DNN (dense-128)": "dense128", "CNN": "cnn", "LSTM": "lstm"}  # label -> fashion/params.yaml key
VARIANTS = (("numpy", False), ("tf.data", False), ("numpy", True), ("tf.data", True))  # (input, XLA)


def load_images(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n Fashion-MNIST training images, NHWC float32 in [0, 1] as preprocess makes them."""
    x = fashion.read("train_images")[:n, ..., np.newaxis].astype(np.float32) / 255.0
    return x, fashion.read("train_labels")[:n].astype(np.int64)


def suite_settings(batch_size: int | None, mixed_precision: bool) -> tuple[Any, Any]:
    """(params, train settings) of fashion/params.yaml, with the command line's batch size / precision."""
    from pipeline import config

    params = config.load(ROOT / "fashion" / "params.yaml")
    train = params.train.keras
    device = train.device.model_copy(update={"mixed_precision": "on" if mixed_precision else "off"})
    train = train.model_copy(update={"batch_size": batch_size or train.batch_size, "device": device})
    return params, train


def epoch_seconds(
    params: Any, train: Any, model_key: str, feed: str, jit: bool, x: np.ndarray, y: np.ndarray, epochs: int
) -> list[float]:
    """Wall time of every epoch of one fit of a fresh model."""
    import keras

    from pipeline.backends.keras.fit import _dataset, _optimizer
    from pipeline.datasets.processed import Schema, Split
    from pipeline.models import building

    schema = Schema("fashion_mnist", "classification", "image", tuple(x.shape[1:]), n_classes=10)
    keras.backend.clear_session()
    model = building.build(params.models.keras[model_key], schema, params.seed, name=model_key)
    steps = int(np.ceil(len(x) / train.batch_size))
    model.compile(
        optimizer=_optimizer(train, total_steps=steps * epochs),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit,
    )
    times: list[float] = []
    marks: dict[str, float] = {}
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: marks.update(start=time.perf_counter()),
        on_epoch_end=lambda epoch, logs: times.append(time.perf_counter() - marks["start"]),
    )
    if feed == "numpy":
        model.fit(
            x, y, batch_size=train.batch_size, epochs=epochs, shuffle=True, callbacks=[timer], verbose=0
        )
    else:  # as the pipeline calls it: the dataset shuffles, with the seed
        dataset = _dataset(Split(x, y), train, seed=params.seed, shuffle=True)
        model.fit(dataset, epochs=epochs, shuffle=False, callbacks=[timer], verbose=0)
    return times


def measure(settings: dict[str, Any], batch_size: int | None, mixed_precision: bool) -> dict[str, Any]:
    from pipeline.backends.keras import device

    params, train = suite_settings(batch_size, mixed_precision)
    info = device.configure(train.device)  # float32 or mixed_float16 policy, GPU memory growth
    images, labels = load_images(max(settings["n_train"].values()))
    results: dict[str, dict[str, Any]] = {}
    for label, key in MODELS.items():
        x, y = images[: settings["n_train"][key]], labels[: settings["n_train"][key]]
        timed: dict[str, list[float]] = {f"{feed}|{jit}": [] for feed, jit in VARIANTS}
        first: dict[str, list[float]] = {name: [] for name in timed}
        for round_index in range(settings["rounds"]):
            shift = round_index % len(VARIANTS)
            for feed, jit in VARIANTS[shift:] + VARIANTS[:shift]:
                times = epoch_seconds(params, train, key, feed, jit, x, y, settings["epochs"])
                timed[f"{feed}|{jit}"] += times[1:]
                first[f"{feed}|{jit}"].append(times[0])
                log.info(
                    "%s, %s, XLA %s: %.0f samples/s (first epoch %.1f s)",
                    *(label, feed, "on" if jit else "off", len(x) / commands.median(times[1:]), times[0]),
                )
        results[label] = {"n_train": len(x)} | {
            name: {
                "samples_per_second": len(x) / commands.median(seconds),
                "epoch_seconds": seconds,
                "first_epoch_seconds": first[name],
            }
            for name, seconds in timed.items()
        }
    return {
        "settings": {**settings, "batch_size": train.batch_size},
        "device": info.description,
        "models": results,
    }


def render(result: dict[str, Any]) -> str:
    settings, device = result["settings"], result["device"]
    rows = []
    for label, variants in result["models"].items():

        def rate(feed: str, jit: bool, variants: dict = variants) -> float:
            return variants[f"{feed}|{jit}"]["samples_per_second"]

        rows.append(
            [
                label,
                f"{variants['n_train']:,}",
                f"{rate('numpy', False):,.0f}",
                f"{rate('tf.data', False):,.0f}",
                f"**{rate('tf.data', False) / rate('numpy', False):.2f}**",
                f"{rate('numpy', True):,.0f}",
                f"**{rate('numpy', True) / rate('numpy', False):.2f}**",
                f"{rate('tf.data', True):,.0f}",
                f"{rate('tf.data', True) / rate('tf.data', False):.2f}",
            ]
        )
    table = markdown.table(
        ["model", "images", "NumPy", "tf.data", "tf.data / NumPy", "NumPy + XLA", "XLA / no XLA",
         "tf.data + XLA", "XLA / no XLA (tf.data)"],
        rows,
        "lrrrrrrrr",
    )  # fmt: skip
    n_timed = settings["rounds"] * (settings["epochs"] - 1)
    return "\n\n".join(
        [
            "Training samples/s on Fashion-MNIST images (as many per model as the *images* column says), "
            f"batch {settings['batch_size']}, "
            f"{'mixed_float16' if device['mixed_precision'] else 'float32'}, {device['device_type']}"
            f"{' (' + ', '.join(device['gpus']) + ')' if device['gpus'] else ''}, TensorFlow "
            f"{device['tensorflow']}; median of {n_timed} timed epochs "
            "per variant (each fit's first epoch, with tracing and XLA compilation, dropped). Ratios above 1 "
            "mean faster.",
            table,
            "tf.data is the pipeline's input (`cache → shuffle → batch → prefetch`); NumPy is "
            "`model.fit(x, y)` on in-memory arrays. XLA (`jit_compile=True`) is what "
            "`train.keras.device.jit_compile: on` forces; `auto`, the default, leaves it to Keras, which "
            "keeps it off on CPU-only TensorFlow. The models are the suite's: dense-128; two conv blocks "
            "(32, 64 filters, batch norm) and a dense 128; an LSTM of 128 units reading the 28 rows.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    arguments = cli.parser(__doc__)
    arguments.add_argument("--batch-size", type=int, help="instead of the suite's (128); e.g. 512 on a GPU")
    arguments.add_argument(
        "--mixed-precision", action="store_true", help="mixed_float16 (a GPU with tensor cores gains from it)"
    )
    args = arguments.parse_args(argv)
    started = time.perf_counter()
    fashion.require()
    result = measure(dict(QUICK if args.quick else FULL), args.batch_size, args.mixed_precision)
    results.publish("throughput", args, render(result), result, started)


if __name__ == "__main__":
    cli.main_wrapper(main)
