"""The command line every benchmark shares: its options, logging, and one message instead of a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bench.commands import BenchError, log
from bench.results import RESULTS_FILE
from pipeline.core import console
from pipeline.core.errors import PipelineError


def parser(description: str | None) -> argparse.ArgumentParser:
    """Options every benchmark takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help="small data, few repeats: about a minute")
    result.add_argument("--keep", action="store_true", help="keep the temporary project copies")
    result.add_argument("--json", type=Path, help="also write the raw figures to this JSON file")
    result.add_argument("--results", type=Path, default=RESULTS_FILE, help="the RESULTS.md to update")
    result.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    return result


def main_wrapper(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a benchmark's main; a BenchError (or a PipelineError of a project copy) becomes one message and
    exit code 2."""
    console.start_logging()
    try:
        main(argv)
    except (BenchError, PipelineError) as err:
        log.error("%s", err)
        sys.exit(2)
