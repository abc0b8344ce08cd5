"""Commands a benchmark runs and times, in temporary folders it never leaves behind unless asked."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.workflow.environment import child_env
from pipeline.workflow.project_copy import ROOT

log = logging.getLogger("bench")


class BenchError(RuntimeError):
    """A benchmark cannot run (missing data, a failed command); the message says why."""


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Timed:
    """A finished command: its wall time, the CPU time of it and its children (user + system), output."""

    seconds: float
    cpu_seconds: float
    stdout: str
    stderr: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def project_env(project: Path | None = None, **overrides: str) -> dict[str, str]:
    """The environment for `dvc` and stage processes of a project copy (`child_env`, isolated), with
    TensorFlow's C++ log quiet unless the user chose its level."""
    env = child_env(isolated=True, project=project)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(overrides)
    return env


def with_bench(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for `python -m bench.<module>` in a project copy, which has no bench/: this workspace on
    PYTHONPATH after the copy's code, so only `bench` comes from it."""
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, (env.get("PYTHONPATH"), str(ROOT))))}


def run(
    cmd: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> Timed:
    """Run `cmd` in `cwd` and time it; BenchError with the output's tail if it fails.

    CPU time counts the command and every descendant it waited for (DVC waits for its stages); it is
    less sensitive than wall time to other work on the machine.
    """
    cpu, start = _children_cpu(), time.perf_counter()
    result = subprocess.run(
        list(cmd), cwd=cwd, env=dict(env or project_env()), text=True, capture_output=True, timeout=timeout
    )
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if result.returncode != 0:
        raise BenchError(
            f"`{' '.join(cmd)}` in {cwd} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return Timed(seconds, cpu, result.stdout, result.stderr)


def last_json_line(text: str) -> dict[str, Any]:
    """The last line of `text` that is a JSON object (how probe scripts report their figures)."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"no JSON result line in the output:\n{text[-2000:]}")


def with_rest(parts: Mapping[str, Any], wall: float) -> dict[str, Any]:
    """A probe's seconds per part plus `start-up` (the wall time outside the process's own clock, its
    `in process`) and `rest` (what no timer covered)."""
    parts = dict(parts)
    parts["start-up"] = wall - parts["in process"]
    listed = sum(
        v for k, v in parts.items() if isinstance(v, float) and k not in ("in process", "start-up", "rest")
    )
    parts["rest"] = max(0.0, parts["in process"] - listed)
    return parts


@contextlib.contextmanager
def tracking_uri_set(uri: str) -> Iterator[str]:
    """MLFLOW_TRACKING_URI -> `uri` for in-process code, restored afterwards."""
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        yield uri
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


@contextlib.contextmanager
def workdir(name: str, *, keep: bool = False) -> Iterator[Path]:
    """A temporary directory for one benchmark; removed afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        yield path
    finally:
        if keep:
            log.info("kept %s", path)
        else:
            shutil.rmtree(path, ignore_errors=True)
