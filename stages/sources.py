"""DVC stage `sources`: per data set, what `download@<dataset>` depends on (sources/<dataset>).

Runs on every `dvc repro` (always_changed), so it imports no more than YAML: a no-op stays cheap. Its
entries change only when a data set's local files or source kind do (pipeline.datasets.stamps).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.datasets import stamps
from pipeline.errors import PipelineError

SOURCES_DIR = Path("sources")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
    parser.add_argument("--out", type=Path, default=SOURCES_DIR, help="output directory (default: sources)")
    args = parser.parse_args(argv)
    stamps.write(args.out, stamps.read_datasets(args.params))


if __name__ == "__main__":
    try:
        main()
    except PipelineError as err:  # one line, as every stage (stages.cli.run would import pydantic)
        sys.exit(f"sources: {err}")
