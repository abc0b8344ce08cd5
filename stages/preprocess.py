"""DVC stage `preprocess@<dataset>`: split, scale and shape raw data into data/processed/<dataset>/."""

from __future__ import annotations

from pathlib import Path

from pipeline import config
from pipeline.core import paths, storage
from pipeline.datasets import processed
from pipeline.datasets.preprocess import preprocess
from stages import cli


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("dataset", help="a key of `datasets:` in params.yaml")
    parser.add_argument("--raw", type=Path, help="raw directory (default: data/raw/<dataset>)")
    parser.add_argument("--out", type=Path, help="output directory (default: data/processed/<dataset>)")
    args = parser.parse_args(argv)
    params = config.load(args.params)
    cfg = config.dataset(params, args.dataset)
    data = preprocess(args.dataset, cfg, args.raw or paths.raw_dir(args.dataset), params.seed)
    with storage.atomic_dir(args.out or paths.processed_dir(args.dataset)) as staging:
        processed.save(staging, data)


if __name__ == "__main__":
    cli.run(main)
