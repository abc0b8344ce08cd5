"""One pipeline stage run with timers around its parts: `python -m bench.profile_stage <stage> <experiment>`.

Run it in a DVC project's folder whose stages it imports (`measure` does, from a benchmark). Imports are
timed first (TensorFlow, then the stage's own modules, then MLflow, which the stage would import
lazily); then the pipeline's functions and every `Run.log_*` / `set_*` method are wrapped. A timed
call inside another counts for the outer one only. Prints one JSON line of seconds per part.

Only the standard library is imported at the top: everything else is part of what the clock measures.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

TIMED = (
    ("pipeline.datasets.processed", ("load", "load_schema", "data_hash"), "load data"),
    ("pipeline.models.training", ("fit",), "build, compile, fit"),
    ("pipeline.models.persistence", ("save",), "save model"),
    ("pipeline.models.persistence", ("load",), "load model"),
    ("pipeline.evaluation.assessment", ("assess",), "evaluate: predict, metrics, figures"),
    ("pipeline.evaluation.assessment", ("inference_speed",), "evaluate: inference throughput"),
    ("pipeline.core.storage", ("write_json", "write_text"), "write results"),
)


class Timers:
    """Seconds per part; a timed call inside another timed call counts for the outer one only."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.active: list[str] = []

    def add(self, key: str, seconds: float) -> None:
        self.spent[key] = self.spent.get(key, 0.0) + seconds

    def wrap(self, owner: Any, name: str, key: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.active.append(key)
            begin = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.active.pop()
                if not self.active:
                    self.add(key, time.perf_counter() - begin)

        setattr(owner, name, wrapper)

    def wrap_run(self, open_run: Callable[..., Any]) -> Callable[..., Any]:
        """`runs.run` with opening and ending the MLflow run timed apart."""

        @contextlib.contextmanager
        def run(*args: Any, **kwargs: Any) -> Iterator[Any]:
            manager = open_run(*args, **kwargs)
            begin = time.perf_counter()
            value = manager.__enter__()
            self.add("mlflow: open run", time.perf_counter() - begin)
            try:
                yield value
            except BaseException:
                if not manager.__exit__(*sys.exc_info()):
                    raise
            else:
                begin = time.perf_counter()
                manager.__exit__(None, None, None)
                self.add("mlflow: end run", time.perf_counter() - begin)

        return run


def main(argv: list[str] | None = None) -> None:
    start = time.perf_counter()
    import keras  # noqa: F401
    import numpy  # noqa: F401
    import tensorflow  # noqa: F401

    imported_tf = time.perf_counter()
    stage_name, experiment = argv or sys.argv[1:]
    stage = importlib.import_module(f"stages.{stage_name}")
    from pipeline.core import paths, storage
    from pipeline.tracking import runs, store
    from pipeline.tracking.run import Run

    imported_pipeline = time.perf_counter()
    store.import_mlflow()

    imported_mlflow = time.perf_counter()
    timers = Timers()
    for module_name, names, key in TIMED:
        module = importlib.import_module(module_name)
        for name in names:
            if hasattr(module, name):
                timers.wrap(module, name, key)
    for name in dir(Run):
        if name.startswith(("log_", "set_")) and callable(getattr(Run, name)):
            timers.wrap(Run, name, f"mlflow: {name}")
    runs.run = timers.wrap_run(runs.run)
    stage.main([experiment])
    end = time.perf_counter()
    spent, results = timers.spent, paths.results_dir(experiment)
    if "build, compile, fit" in spent:
        fit_seconds = storage.read_json(results / paths.TRAIN_SUMMARY)["fit_seconds"]
        spent["build, compile"] = spent.pop("build, compile, fit") - fit_seconds
        spent["fit"] = fit_seconds
    record = storage.read_json(results / (paths.RUN_RECORD if stage_name == "train" else paths.DETAILS))
    print(json.dumps({
        **spent, "import TensorFlow": imported_tf - start, "import pipeline": imported_pipeline - imported_tf,
        "import MLflow": imported_mlflow - imported_pipeline, "in process": end - start,
        "tracking status": record.get("status") or record.get("tracking", {}).get("status"),
    }))  # fmt: skip


def measure(stage: str, experiment: str, cwd: Path, env: Mapping[str, str]) -> tuple[float, dict[str, Any]]:
    """(wall seconds, seconds per part) of one stage run through this module in `cwd`, a DVC project's
    folder whose code `env`'s PYTHONPATH names; BenchError unless the stage logged to MLflow. The stage
    gets the DVC_ROOT that DVC would give it."""
    from bench import commands  # here, not at the top: the profiled process would pay for it off the clock

    timed = commands.run(
        ["python", "-m", "bench.profile_stage", stage, experiment],
        cwd,
        env={**commands.with_bench(env), "DVC_ROOT": str(cwd)},
    )
    parts = commands.with_rest(commands.last_json_line(timed.stdout), timed.seconds)
    if parts.get("tracking status") != "logged":
        store = env.get("MLFLOW_TRACKING_URI", "the project's mlflow.db")
        raise commands.BenchError(f"the profiled {stage} stage did not log to {store}: {parts}")
    return timed.seconds, parts


if __name__ == "__main__":
    main()
