"""What every stage shares: logging set-up and one clear line instead of a traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline import config
from pipeline.config import DEFAULT_PARAMS, Experiment
from pipeline.errors import PipelineError

log = logging.getLogger("stages")


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


def run(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Call a stage's `main`; a PipelineError becomes one message on stderr and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        main(argv)
    except PipelineError as err:
        log.error("%s", err)
        sys.exit(2)
    except KeyboardInterrupt:
        log.error("interrupted; outputs already written are complete, nothing half-written was kept")
        sys.exit(130)


# Where stages read and write, relative to the folder `dvc repro` runs the stage in (dvc.yaml's).
def raw_dir(dataset: str) -> Path:
    return Path("data/raw") / dataset


def processed_dir(dataset: str) -> Path:
    return Path("data/processed") / dataset


def model_dir(experiment: str) -> Path:
    return Path("models") / experiment


def results_dir(experiment: str) -> Path:
    return Path("results") / experiment


REPORTS_DIR = Path("reports")
CHECKPOINTS_DIR = Path("checkpoints")  # Keras BackupAndRestore state: outside DVC outputs, so it survives
