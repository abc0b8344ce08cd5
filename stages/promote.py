"""DVC stage `promote`: per dataset, move the registry alias `champion` to the best model if it wins.

The best experiment of each dataset (by the task's metric in `promote.metrics`) is registered as a
new version of the MLflow model `<mlflow.experiment_prefix><dataset>` and becomes `champion` only if
it beats the current champion by more than `promote.margin`; a tie never demotes. The champion is
judged on the same data: re-scored on this run's test split (pipeline/decisions/rescoring.py), or,
when it cannot take this data, by its stored value, marked "not comparable on the new data". The
decisions go to reports/promotion.json ("challenger", "champion_on_new_data", "champion_stored",
"margin", "decision"). Face-completion experiments predict pixels and are not promoted.

Outside the workspace (a queued or `--temp` experiment, or PIPELINE_PROMOTE_DRY_RUN=1) the stage
only records what it would promote (`"would_promote"`, `"dry_run"`): the registry stays as it was.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from pipeline import config
from pipeline.core import metrics, paths, storage
from pipeline.core.errors import PipelineError
from pipeline.decisions import promotion, rescoring
from pipeline.tracking import registry
from stages import cli

log = logging.getLogger(__name__)


def candidates(params: config.Params) -> dict[str, dict[str, dict]]:
    """dataset -> experiment -> {"metrics", "train", "run"}: what train and evaluate recorded."""
    found: dict[str, dict[str, dict]] = defaultdict(dict)
    for name in params.experiments:
        trained = cli.read_result(name, paths.TRAIN_SUMMARY)
        if trained["family"] == "face_completion":
            continue
        found[trained["dataset"]][name] = {
            "metrics": cli.read_result(name, paths.METRICS),
            "train": trained,
            "run": cli.read_result(name, paths.RUN_RECORD),
        }
    return found


def promote_dataset(
    dataset: str, entries: dict[str, dict], params: config.Params, *, dry_run: str | None = None
) -> dict:
    """Register and maybe crown the best experiment of one dataset; return the decision record.

    With `dry_run` (the reason the registry must not change) it only decides and records.
    """
    task = next(iter(entries.values()))["train"]["task"]
    spec = metrics.spec(params.promote.metrics[task])
    best = promotion.best_experiment({name: e["metrics"] for name, e in entries.items()}, spec)
    metric = spec.name
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
    rescored = None
    if current is not None and current[2] == run_id:  # the champion is this very run: evaluate scored it
        rescored = rescoring.Rescored(metric, value)
    elif current is not None:
        version, _, champion_run = current
        rescored = rescoring.champion_on_new_data(
            model_name, version, champion_run, paths.processed_dir(dataset), metric, timeout_seconds=timeout
        )
        if rescored.reason:
            log.warning("%s: champion v%s is %s", dataset, version, rescored.reason)
    stored = current[1] if current else None
    on_new_data = rescored.value if rescored else None
    champion_value, basis = promotion.champion_value(
        on_new_data, stored, rescored.reason if rescored else None
    )
    decision = promotion.decide(
        value, champion_value, metric=spec, margin=params.promote.margin, champion_exists=current is not None
    )
    record.update(
        model=model_name,
        champion_before=current[0] if current else None,
        challenger={"experiment": best, "value": value},
        champion_on_new_data=on_new_data,
        champion_stored=stored,
        champion_basis=basis if current else None,
        margin=params.promote.margin,
        decision="promote" if decision.promote else "keep the champion",
        would_promote=decision.promote,
        reason=decision.reason,
    )
    if dry_run is not None:
        record["dry_run"] = f"{dry_run}: the registry is left as it was (promote from the workspace)"
    elif decision.promote:
        version = registry.register(run_id, model_name, metric, value, timeout_seconds=timeout)
        registry.set_champion(model_name, version, timeout_seconds=timeout)
        record.update(promoted=True, version=version)
    log.info("%s: %s -> %s", dataset, best, decision.reason)
    return record


def main(argv: list[str] | None = None) -> None:
    args = cli.parser(__doc__).parse_args(argv)
    params = config.load(args.params)
    dry_run = registry.read_only_reason()
    if dry_run is not None:
        log.info("not changing the registry: %s", dry_run)
    decisions = {}
    for dataset, entries in sorted(candidates(params).items()):
        try:
            decisions[dataset] = promote_dataset(dataset, entries, params, dry_run=dry_run)
        except PipelineError as err:
            if params.mlflow.required:
                raise
            log.warning("%s: not promoted, the registry is unavailable: %s", dataset, err)
            decisions[dataset] = {"promoted": False, "reason": f"registry unavailable: {err}"}
    storage.write_json(paths.PROMOTION, decisions)


if __name__ == "__main__":
    cli.run(main)
