"""DVC stage `download@<dataset>`: fetch a data set's raw files, verified, into data/raw/<dataset>/.

A table source (csv, http, sql, folder) also writes snapshot.json there: rows, columns, time range,
the table's sha256 and the check token the `sources` stage compares (pipeline.datasets.snapshot).
"""

from __future__ import annotations

from pathlib import Path

from pipeline import config
from pipeline.core import paths
from pipeline.datasets import sources
from stages import cli


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("dataset", help="a key of `datasets:` in params.yaml")
    parser.add_argument("--out", type=Path, help="output directory (default: data/raw/<dataset>)")
    args = parser.parse_args(argv)
    params = config.load(args.params)
    cfg = config.dataset(params, args.dataset)
    sources.fetch_raw(args.dataset, cfg, args.out or paths.raw_dir(args.dataset))


if __name__ == "__main__":
    cli.run(main)
