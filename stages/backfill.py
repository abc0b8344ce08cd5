"""Back-fill MLflow runs for experiments trained while tracking was down: `python -m stages.backfill`.

An experiment whose results/<experiment>/run.json has no run id gets one complete run logged from
its outputs (params, history, the data set, the model, test metrics, figures; the tags of a normal
run plus `pipeline.backfilled`). The run id goes back into run.json and details.json, and
`dvc commit` records those two outputs in dvc.lock and the run-cache, so `train@` and `evaluate@`
stay up to date; the next `dvc repro` re-runs only `report` and `promote`, which now see the run.
Experiments whose `train@` / `evaluate@` DVC would re-run (params or code changed since) are refused:
their outputs no longer match params.yaml. Not a DVC stage: it runs when you ask, after the tracking
store is back.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from pipeline import config
from pipeline.core import paths, storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import processed
from pipeline.models import persistence
from pipeline.tracking import runs
from stages import cli, evaluate, train

log = logging.getLogger(__name__)


def untracked(params: config.Params) -> list[str]:
    """Experiments trained and evaluated whose run.json names no MLflow run."""
    found = []
    for name in params.experiments:
        evaluated = (paths.results_dir(name) / paths.DETAILS).exists()
        if evaluated and not cli.read_result(name, paths.RUN_RECORD).get("run_id"):
            found.append(name)
    return found


def log_run(experiment: config.Experiment) -> dict:
    """Log one experiment's outputs as a new MLflow run; return its run.json record."""
    results, model_dir = paths.results_dir(experiment.name), paths.model_dir(experiment.name)
    summary = cli.read_result(experiment.name, paths.TRAIN_SUMMARY)
    details = cli.read_result(experiment.name, paths.DETAILS)
    details.pop("tracking", None)  # the unavailable record evaluate wrote
    with runs.run(experiment, stage=f"train@{experiment.name}") as run:
        stages = f"train@{experiment.name},evaluate@{experiment.name}"  # as after a normal evaluate@
        run.set_tags({"dvc.stages": stages, "pipeline.backfilled": "true"})
        train.log_training(
            run,
            experiment,
            summary,
            storage.read_json(model_dir / persistence.HYPERPARAMETERS_FILE),
            evaluate.read_history(results / paths.HISTORY),
            persistence.load(model_dir),
            processed.load(paths.processed_dir(experiment.dataset)),
        )
        evaluate.log_evaluation(run, results, cli.read_result(experiment.name, paths.METRICS), details)
    record = run.record()
    if record["status"] != "logged":
        raise PipelineError(
            f"{experiment.name}: MLflow tracking is unavailable ({record['error']}); nothing back-filled. "
            "Start the tracking server or fix MLFLOW_TRACKING_URI, then run `make backfill` again."
        )
    storage.write_json(results / paths.RUN_RECORD, record)
    storage.write_json(results / paths.DETAILS, {**details, "tracking": record})
    return record


def dvc(*args: str) -> str:
    """Run the project's `dvc` (beside this interpreter, else on PATH); its stdout."""
    found = Path(sys.executable).with_name("dvc")
    result = subprocess.run([str(found) if found.exists() else "dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"`dvc {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def stage_names(names: list[str]) -> list[str]:
    return [f"{stage}@{name}" for name in names for stage in ("train", "evaluate")]


def check_up_to_date(names: list[str]) -> None:
    """Outputs of stages that DVC would re-run were made by other params or code: never log them."""
    changed = sorted(json.loads(dvc("status", "--json", *stage_names(names)) or "{}"))
    if changed:
        raise PipelineError(
            f"{', '.join(changed)} changed since they ran (params, code or data): their outputs are not "
            "what params.yaml now describes. Run `dvc repro` (which logs new runs) instead of back-filling."
        )


def main(argv: list[str] | None = None) -> None:
    arguments = cli.parser(__doc__)
    arguments.add_argument("experiments", nargs="*", help="only these (default: every untracked one)")
    args = arguments.parse_args(argv)
    params = config.load(args.params)
    missing = untracked(params)
    names = [name for name in args.experiments if name in missing] if args.experiments else missing
    if not names:
        log.info("every evaluated experiment has an MLflow run: nothing to back-fill")
        return
    check_up_to_date(names)
    done = []
    try:
        for name in names:
            record = log_run(config.experiment(params, name))
            done.append(name)
            log.info("%s: logged MLflow run %s", name, record["run_id"])
    finally:
        if done:  # the rewritten run.json / details.json into dvc.lock and the run-cache
            dvc("commit", "--force", "--quiet", *stage_names(done))
    log.info("back-filled %d run(s); `dvc repro` now updates the leaderboard and promotes", len(done))


if __name__ == "__main__":
    cli.run(main)
