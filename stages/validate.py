"""DVC stage `validate@<dataset>`: check a table snapshot against its schema (schemas/<dataset>.yaml,
inferred from the first snapshot) and measure its drift from the last snapshot that passed.

Writes reports/drift/<dataset>.json and .png, and keeps a sample of the snapshot in
data/reference/<dataset>/ for the next run. A schema failure stops with one message and writes
nothing; drift with `validate.on_drift: block` writes the report, then stops (the sample is not
kept). Data sets that are no table (images, text, bundled series) get a `skipped` report, cheaply.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

from pipeline import config
from pipeline.core import paths, storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import drift, reference, validation
from pipeline.datasets.sources import tables
from pipeline.evaluation import figures  # matplotlib, pandas and pandera load on first use: for tables only
from stages import cli

log = logging.getLogger("stages.validate")
BLANK_PNG = base64.b64decode(  # the plot of a skipped data set: one white pixel, without loading matplotlib
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR42mP4DwABAQEAHLCMmQAAAABJRU5ErkJggg=="
)


def table_file(dataset: str, cfg: config.DatasetConfig) -> Path | None:
    """The snapshot's table, or None for a data set that is no table."""
    if not hasattr(cfg, "target"):  # the fields every table kind shares
        return None
    return tables.data_file(paths.raw_dir(dataset))


def skip(dataset: str, settings: config.Validate) -> None:
    reference.start_empty(paths.reference_dir(dataset))
    with storage.atomic_path(paths.drift_plot(dataset)) as tmp:
        tmp.write_bytes(BLANK_PNG)
    storage.write_json(paths.drift_report(dataset), drift.report(dataset, "skipped", settings))


def check_table(dataset: str, cfg: config.TableFields, table: Path, settings: config.Validate) -> dict:
    """The schema check (its warnings logged), then the drift report (written); the report."""
    frame = tables.read_file(table)
    schema_path = paths.schema_file(dataset)
    if schema_path.is_file():
        schema = validation.load(schema_path)
    else:
        classification = cfg.task == "classification"
        schema = validation.infer(
            frame,
            target=cfg.target,
            classification=classification,
            time=cfg.time,
            max_missing_rate=settings.max_missing_rate,
        )
        validation.save(schema, schema_path, dataset)
        log.warning("wrote %s, inferred from this snapshot: review it and commit it", schema_path)
    warnings = validation.check(frame, schema, target=cfg.target, where=str(table), schema_path=schema_path)
    for line in warnings:
        log.warning("%s", line)

    sha256 = storage.sha256_file(table)
    previous, previous_rows = reference.baseline(paths.reference_dir(dataset), sha256)
    roles = {
        "features": drift.feature_columns(cfg, [str(c) for c in frame.columns]),
        "label": cfg.target,
        "categorical_label": cfg.task == "classification",
        "settings": settings,
    }
    now = drift.compare(previous, frame, **roles) if previous is not None else None
    split = drift.compare(*drift.newest_rows(dataset, frame, cfg), **roles) if cfg.time else None
    result = drift.report(
        dataset,
        "first" if now is None else drift.status(now, settings),
        settings,
        drift=now,
        train_vs_test=split,
        rows={"previous": previous_rows, "current": len(frame)},
        schema_warnings=warnings,
    )
    height = 1.5 + 0.35 * len(roles["features"])
    with figures.figure(paths.drift_plot(dataset), figsize=(7, height)) as (_, axes):
        drift.draw(result, axes)
    storage.write_json(paths.drift_report(dataset), result)
    if result["status"] == "block":
        raise PipelineError(
            f"data set {dataset!r} drifted from its last snapshot in {', '.join(drift.drifted(now))} "
            f"({settings.method} above validate.threshold; see {paths.drift_report(dataset)}): preprocess "
            "will not run. If the change is real, set validate.on_drift: warn and run again"
        )
    reference.keep(paths.reference_dir(dataset), frame, sha256, settings.reference_rows)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("dataset", help="a key of `datasets:` in params.yaml")
    args = parser.parse_args(argv)
    params = config.load(args.params)
    cfg = config.dataset(params, args.dataset)
    table = table_file(args.dataset, cfg)
    if table is None:
        skip(args.dataset, params.validation)
        return
    result = check_table(args.dataset, cfg, table, params.validation)
    drifted = drift.drifted(result)
    log.log(
        logging.WARNING if drifted else logging.INFO,
        "%s: schema passed; drift %s%s",
        args.dataset,
        result["status"],
        f" in {', '.join(drifted)}" if drifted else "",
    )


if __name__ == "__main__":
    cli.run(main)
