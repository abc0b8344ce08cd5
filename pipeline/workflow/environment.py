"""The environment of the processes the project starts: dvc, the stages it runs, helper scripts."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def child_env(*, isolated: bool = False, project: Path | None = None, **overrides: str) -> dict[str, str]:
    """os.environ for a child process, with this interpreter's venv first on PATH (so `dvc` and the
    stages' `python` are the project's) and bytecode cached (without it each stage spends ~15 s
    compiling TensorFlow).

    `isolated`, for throw-away project copies (tests, benchmarks): the user's MLFLOW_TRACKING_URI is
    dropped, so stages log to the copy's own store, and DVC's analytics are off (a background process
    competing for the CPU). `project`: PYTHONPATH makes `python -m stages.…` import that copy's code,
    from a suite's folder too, where the editable install would find the workspace's.
    """
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if isolated:
        env.pop("MLFLOW_TRACKING_URI", None)
        env["DVC_NO_ANALYTICS"] = "1"
    if project is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(project), env.get("PYTHONPATH"))))
    env.update(overrides)
    return env
