"""What every stage shares: logging set-up and one clear line instead of a traceback."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline import config
from pipeline.config import DEFAULT_PARAMS, Experiment
from pipeline.core import console, paths, storage
from pipeline.core.errors import PipelineError

log = logging.getLogger("stages")


def read_result(experiment: str, name: str) -> Any:
    """A JSON file train@ or evaluate@ wrote for `experiment`, or one error naming the stage to run."""
    path = paths.results_dir(experiment) / name
    if not path.is_file():
        stage = "train" if name in (paths.TRAIN_SUMMARY, paths.RUN_RECORD, paths.HISTORY) else "evaluate"
        raise PipelineError(f"{path} not found: run `dvc repro {stage}@{experiment}` first")
    return storage.read_json(path)


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every stage takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS, help="params file (default: params.yaml)"
    )
    return result


def load_experiment(description: str, argv: list[str] | None) -> Experiment:
    """Parse `<experiment> [--params FILE]` and resolve that experiment from the params file."""
    arguments = parser(description)
    arguments.add_argument("experiment", help="a key of `experiments:` in the params file")
    args = arguments.parse_args(argv)
    return config.experiment(config.load(args.params), args.experiment)


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a stopped container), raised like Ctrl-C so `finally` blocks run."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def run(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Call a stage's `main`; a PipelineError becomes one message on stderr and exit code 2.

    Ctrl-C and SIGTERM unwind the stage (temp files removed, the MLflow run marked KILLED) and exit
    130 / 143. SIGKILL cannot be caught: what it leaves is a stale temp file the next writer removes.
    """
    console.start_logging()
    handles_sigterm = threading.current_thread() is threading.main_thread()  # signal.signal's rule
    previous = signal.signal(signal.SIGTERM, _terminate) if handles_sigterm else None
    try:
        main(argv)
    except PipelineError as err:
        log.error("%s", err)
        sys.exit(2)
    except KeyboardInterrupt as err:
        signum = err.args[0] if isinstance(err, Terminated) else signal.SIGINT
        log.error(
            "%s; outputs already written are complete, nothing half-written was kept",
            "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted",
        )
        sys.exit(128 + signum)
    finally:
        if handles_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
