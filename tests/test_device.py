"""pipeline.backends.keras.device: what `auto` resolves to on this CPU, explicit settings, mirroring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.backends.keras import device
from pipeline.config import Device

REPO = Path(__file__).resolve().parents[1]

# A fresh interpreter: the pipeline's modules must import without TensorFlow, and two logical CPU
# devices must be configured before TensorFlow initialises.
FRESH_PROCESS_SCRIPT = """
import json
import sys

import pipeline.backends.keras.device, pipeline.models, pipeline.models.training
heavy = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

from pipeline.models import training
from pipeline.backends.keras import device
from pipeline.config import Device, DnnModel, Experiment, Mlflow, SklearnSource, Train
from pipeline.datasets.processed import ProcessedData, Schema, Split

rng = np.random.default_rng(0)
def split(n):
    return Split(rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, n).astype(np.int64))
schema = Schema("tiny", "classification", "tabular", (6,), n_classes=3)
data = ProcessedData(schema, split(64), split(16), split(16))
train = Train(epochs=1, batch_size=16, device=Device(strategy="mirrored"))
experiment = Experiment(
    name="tiny", seed=0, dataset="tiny", backend="keras", model_name="dnn",
    dataset_config=SklearnSource(source="sklearn", name="iris"),
    model=DnnModel(family="dnn", hidden_units=[8]), train=train, mlflow=Mlflow(),
)
result = training.fit(experiment, data)
auto = device.configure(Device(strategy="auto")).description
print(json.dumps({"heavy": heavy, "mirrored": result.device, "history": len(result.history), "auto": auto}))
"""


@pytest.fixture
def restore_policy():
    yield
    device.configure(Device(mixed_precision="off"))


def test_auto_on_cpu_keeps_mixed_precision_off_and_jit_auto():
    import keras

    info = device.configure(Device())
    assert info.mixed_precision is False
    assert info.jit_compile == "auto"
    assert keras.mixed_precision.global_policy().name == "float32"
    assert info.strategy.num_replicas_in_sync == 1
    assert info.description["device_type"] == "CPU"
    assert info.description["gpus"] == []
    assert info.description["n_replicas"] == 1
    assert info.description["tensorflow"] and info.description["keras"] == keras.__version__
    json.dumps(info.description)


def test_explicit_settings_are_honoured(restore_policy):
    import keras

    info = device.configure(Device(mixed_precision="on", jit_compile="off", strategy="default"))
    assert info.mixed_precision is True
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    assert info.jit_compile is False
    assert device.configure(Device(jit_compile="on")).jit_compile is True


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [([], False), ([(7, 0)], True), ([(8, 6), (7, 5)], True), ([(6, 1)], False), ([(8, 0), (6, 1)], False)],
)
def test_auto_mixed_precision_needs_tensor_cores(capabilities, expected):
    details = [{"compute_capability": capability} for capability in capabilities]
    assert device._mixed_precision("auto", details) is expected


@pytest.mark.e2e
def test_fresh_process_imports_light_then_mirrors_over_two_logical_cpus():
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []  # stages that only check configs or use scikit-learn stay fast
    assert report["mirrored"]["strategy"] == "MirroredStrategy"
    assert report["mirrored"]["n_replicas"] == 2
    assert report["history"] == 1
    assert report["auto"]["n_replicas"] == 1  # auto mirrors only over several GPUs
