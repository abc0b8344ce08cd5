"""Thin entry points, one per DVC stage: `python -m stages.<name> ...`.

`dvc repro` runs each stage with whatever `python` comes first on PATH. When that interpreter lacks
the project's packages (the venv not activated), the stage re-runs itself with the project's
`.venv/bin/python`, or stops with one line saying how to set that up. A stage is a process of its
own, so this is also where TensorFlow's C++ log level is chosen; importing `pipeline` changes nothing.
"""

import ctypes
import importlib.metadata
import os
import sys
from pathlib import Path

PROJECT_DISTRIBUTION = "dvc-ml-pipeline"  # pyproject.toml's name: installed with every dependency
REEXEC_ENV = "PIPELINE_REEXEC"  # set on the re-run: a venv that lacks the packages too stops, not loops


def _project_interpreter() -> Path:
    """The project's .venv interpreter: beside this package (links resolved), else in the workspace
    DVC names (`dvc exp run --temp` runs stages in a copy without the git-ignored .venv) or, for a
    suite such as fashion/, in the folder above it."""
    roots = [Path(__file__).resolve().parents[1]]
    if workspace := os.environ.get("DVC_ROOT"):
        roots += [Path(workspace).resolve(), Path(workspace).resolve().parent]
    candidates = [root / ".venv" / "bin" / "python" for root in roots]
    return next((python for python in candidates if python.exists()), candidates[0])


def _ensure_project_interpreter() -> None:
    try:
        importlib.metadata.distribution(PROJECT_DISTRIBUTION)
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    venv_python = _project_interpreter()
    if venv_python.exists() and not os.environ.get(REEXEC_ENV):
        os.environ[REEXEC_ENV] = "1"
        os.execv(venv_python, [str(venv_python), *sys.orig_argv[1:]])
    sys.stderr.write(
        f"{sys.executable} lacks this project's packages and {venv_python} "
        f"{'lacks them too' if venv_python.exists() else 'does not exist'}: run `make setup`, then "
        "`source .venv/bin/activate` (or run `make run`)\n"
    )
    sys.exit(2)


def _has_nvidia_driver() -> bool:
    """Whether the NVIDIA driver library loads: what TensorFlow's CUDA probe (cuInit) needs."""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def _quiet_tensorflow() -> None:
    """TensorFlow's C++ INFO lines ("Could not find cuda drivers…") drown the stage logs; warnings stay.

    Without an NVIDIA driver its CUDA probe also logs an ERROR line, "failed call to cuInit", in every
    process that imports it: only there are C++ errors hidden too. With a driver they all stay visible.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if _has_nvidia_driver() else "3")


_ensure_project_interpreter()
_quiet_tensorflow()
