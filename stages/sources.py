"""DVC stage `sources`: per data set, what `download@<dataset>` depends on (sources/<dataset>).

A link to the local files a data set reads, so DVC itself sees them change, or a constant stamp
(pipeline.datasets.stamps). Re-runs when the `datasets:` section or the links' files change.
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
