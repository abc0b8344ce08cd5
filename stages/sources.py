"""DVC stage `sources`: per data set, what `download@<dataset>` depends on (sources/<dataset>).

A link to the local files a data set reads, so DVC itself sees them change; a live source's check
token (http, sql, folder): its snapshot's, or with PIPELINE_REFRESH=1 (`make refresh`) a fresh one,
byte-identical while the source is unchanged; or a constant stamp (pipeline.datasets.stamps).
Re-runs when the `datasets:` section or the links' files change.
"""

from __future__ import annotations

from pathlib import Path

from pipeline import config
from pipeline.core import paths
from pipeline.datasets import stamps
from stages import cli


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__)
    parser.add_argument(
        "--out", type=Path, default=paths.SOURCES_DIR, help="output directory (default: sources)"
    )
    args = parser.parse_args(argv)
    params = config.load(args.params)
    stamps.write(args.out, params.datasets, params.refresh.timeout_seconds)


if __name__ == "__main__":
    cli.run(main)
