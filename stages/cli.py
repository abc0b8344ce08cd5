"""What every stage shares: logging set-up and one clear line instead of a traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.config import DEFAULT_PARAMS
from pipeline.errors import PipelineError

log = logging.getLogger("stages")


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every stage takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS, help="params file (default: params.yaml)"
    )
    return result


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
