"""DVC stage `promote`: per dataset, move the registry alias `champion` to the best model if it wins.

The best experiment of each dataset (by the task's metric in `promote.metrics`) is registered as a
new version of the MLflow model `<mlflow.experiment_prefix><dataset>` and becomes `champion` only if
it beats the current champion by more than `promote.margin`; a tie never demotes. The decisions go
to reports/promotion.json. Face-completion experiments predict pixels and are not promoted.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from pipeline import config, io, promotion, registry
from pipeline.errors import PipelineError
from stages import cli

log = logging.getLogger(__name__)


def candidates(params: config.Params) -> dict[str, dict[str, dict]]:
    """dataset -> experiment -> {"metrics", "train", "run"}: what train and evaluate recorded."""
    found: dict[str, dict[str, dict]] = defaultdict(dict)
    for name in params.experiments:
        results = cli.results_dir(name)
        trained = io.read_json(results / "train.json")
        if trained["family"] == "face_completion":
            continue
        found[trained["dataset"]][name] = {
            "metrics": io.read_json(results / "metrics.json"),
            "train": trained,
            "run": io.read_json(results / "run.json"),
        }
    return found


def promote_dataset(dataset: str, entries: dict[str, dict], params: config.Params) -> dict:
    """Register and maybe crown the best experiment of one dataset; return the decision record."""
    task = next(iter(entries.values()))["train"]["task"]
    metric = params.promote.metrics[task]
    higher = promotion.greater_is_better(metric)
    best = promotion.best_experiment({name: e["metrics"] for name, e in entries.items()}, metric, higher)
    value = entries[best]["metrics"]["test"][metric]
    record = {"experiment": best, "metric": metric, "value": value, "promoted": False}
    run_id = entries[best]["run"].get("run_id")
    if run_id is None:
        return {
            **record,
            "reason": "its run was not tracked in MLflow (see its run.json); nothing registered",
        }
    model_name = f"{params.mlflow.experiment_prefix}{dataset}"
    timeout = params.mlflow.timeout_seconds
    current = registry.champion(model_name, metric_name=metric, timeout_seconds=timeout)
    decision = promotion.decide(
        value, current[1] if current else None, greater_is_better=higher, margin=params.promote.margin
    )
    record.update(model=model_name, champion_before=current[0] if current else None, reason=decision.reason)
    if decision.promote:
        version = registry.register(run_id, model_name, metric, value, timeout_seconds=timeout)
        registry.set_champion(model_name, version, timeout_seconds=timeout)
        record.update(promoted=True, version=version)
    log.info("%s: %s -> %s", dataset, best, decision.reason)
    return record


def main(argv: list[str] | None = None) -> None:
    args = cli.parser(__doc__).parse_args(argv)
    params = config.load(args.params)
    decisions = {}
    for dataset, entries in sorted(candidates(params).items()):
        try:
            decisions[dataset] = promote_dataset(dataset, entries, params)
        except PipelineError as err:
            if params.mlflow.required:
                raise
            log.warning("%s: not promoted, the registry is unavailable: %s", dataset, err)
            decisions[dataset] = {"promoted": False, "reason": f"registry unavailable: {err}"}
    io.write_json(cli.REPORTS_DIR / "promotion.json", decisions)


if __name__ == "__main__":
    cli.run(main)
