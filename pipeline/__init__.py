"""Importable library behind the DVC stages: datasets, models, training, evaluation, tracking."""

import ctypes
import os


def _has_nvidia_driver() -> bool:
    """Whether the NVIDIA driver library loads: what TensorFlow's CUDA probe (cuInit) needs."""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


# TensorFlow's C++ INFO lines ("Could not find cuda drivers…") drown the stage logs; warnings stay.
# Without an NVIDIA driver its CUDA probe also logs an ERROR line, "failed call to cuInit", in every
# process that imports it: only there are C++ errors hidden too. With a driver they all stay visible.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if _has_nvidia_driver() else "3")
