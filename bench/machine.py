"""The machine a benchmark ran on: CPU, memory, GPUs, versions, commit and load (RESULTS.md's header)."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pipeline.workflow.project_copy import ROOT

VERSION_PACKAGES = ("tensorflow", "keras", "scikit-learn", "mlflow", "dvc", "numpy")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return None


def _gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip()


def versions() -> dict[str, str]:
    """Python and the packages that matter, from their metadata (nothing is imported)."""
    found = {"python": platform.python_version()}
    for package in VERSION_PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe() -> dict[str, Any]:
    """The machine, versions, date and load: what RESULTS.md's header shows."""
    memory = _memory_gb()
    return {
        "date": now(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(memory, 1) if memory else None,
        "gpus": _gpus(),
        "os": platform.platform(),
        "load_average": round(os.getloadavg()[0], 2),
        "commit": _commit(),
        "versions": versions(),
    }


def load_note() -> str:
    """The 1-minute load average against the cores: a busy machine makes every time longer."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    busy = " — **busy machine: absolute times are inflated**" if load > 0.5 * cores else ""
    return f"load average {load:.2f} on {cores} cores{busy}"
