"""DVC stage `sources`: per data set, what `download@<dataset>` depends on (sources/<dataset>).

Runs on every `dvc repro` (always_changed) and imports only the params' validation, so a no-op stays
cheap; its entries change only when a data set's files or source do (pipeline.datasets.stamps).
"""

from __future__ import annotations

from pathlib import Path

from pipeline import config
from pipeline.datasets import stamps
from stages import cli

SOURCES_DIR = Path("sources")


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("--out", type=Path, default=SOURCES_DIR, help="output directory (default: sources)")
    args = parser.parse_args(argv)
    stamps.write(args.out, config.load(args.params).datasets)


if __name__ == "__main__":
    cli.run(main)
