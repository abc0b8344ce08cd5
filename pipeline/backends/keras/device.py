"""Where Keras trains: GPUs found, memory growth, mixed precision, XLA and the distribution strategy.

`auto` settings pick what helps on the hardware found: mixed precision only on GPUs with compute
capability >= 7.0 (tensor cores; on CPU it is several times slower), XLA as Keras' own "auto" (off on
CPU-only TensorFlow), and MirroredStrategy only with more than one GPU.

Several `dvc queue` workers on one machine: with `memory_growth: true` (the default) each worker
allocates GPU memory as it needs it instead of grabbing it all, so workers can share one GPU. To give
each worker its own GPU instead, start it with `CUDA_VISIBLE_DEVICES=<index>` (e.g.
`CUDA_VISIBLE_DEVICES=1 dvc queue start`); TensorFlow then sees only that GPU. `CUDA_VISIBLE_DEVICES=""`
hides every GPU and forces the CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.config import Device

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

MIN_MIXED_PRECISION_CAPABILITY = (7, 0)


@dataclass(frozen=True)
class DeviceInfo:
    """The resolved device settings; `description` is JSON-serialisable, for the run's record."""

    strategy: tf.distribute.Strategy
    mixed_precision: bool
    jit_compile: bool | str
    description: dict[str, Any]


def _enable_memory_growth(gpus: list[Any]) -> None:
    import tensorflow as tf

    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU is already initialised (an earlier run in this process)
            logger.debug("memory growth for %s left as it was: GPU already initialised", gpu.name)


def _gpu_details(gpus: list[Any]) -> list[dict[str, Any]]:
    import tensorflow as tf

    return [tf.config.experimental.get_device_details(gpu) for gpu in gpus]


def _mixed_precision(setting: str, details: list[dict[str, Any]]) -> bool:
    if setting != "auto":
        if setting == "on" and not details:
            logger.warning("mixed_precision: on without a GPU: float16 on CPU is several times slower")
        return setting == "on"
    capabilities = [tuple(d.get("compute_capability") or (0, 0)) for d in details]
    return bool(capabilities) and min(capabilities) >= MIN_MIXED_PRECISION_CAPABILITY


def _strategy(setting: str, n_gpus: int) -> tf.distribute.Strategy:
    import tensorflow as tf

    if setting == "default" or (setting == "auto" and n_gpus < 2):
        return tf.distribute.get_strategy()
    if n_gpus:
        return tf.distribute.MirroredStrategy()
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    if len(cpus) < 2:
        logger.warning("strategy: mirrored on a single CPU device: training runs as one replica")
    return tf.distribute.MirroredStrategy(devices=cpus)


def configure(device: Device) -> DeviceInfo:
    """Apply the device section to this process (Keras dtype policy, GPU memory) and describe it."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if device.memory_growth:
        _enable_memory_growth(gpus)
    details = _gpu_details(gpus)
    mixed_precision = _mixed_precision(device.mixed_precision, details)
    # set both ways: the policy is global and an earlier run in this process may have changed it
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    jit_compile = {"auto": "auto", "on": True, "off": False}[device.jit_compile]
    strategy = _strategy(device.strategy, len(gpus))
    description = {
        "device_type": "GPU" if gpus else "CPU",
        "gpus": [d.get("device_name", gpu.name) for d, gpu in zip(details, gpus, strict=True)],
        "strategy": type(strategy).__name__,
        "n_replicas": int(strategy.num_replicas_in_sync),
        "mixed_precision": mixed_precision,
        "jit_compile": jit_compile,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    logger.info("device: %s", description)
    return DeviceInfo(strategy, mixed_precision, jit_compile, description)
