"""DVC stage `evaluate@<experiment>`: score the trained model on train / val / test.

Writes results/<experiment>/metrics.json (for `dvc metrics` / `dvc exp show`: scores and the model's
size, nothing timed, so re-evaluating the same model rewrites it byte for byte), details.json (the
per-class report and the measured inference speed, which varies from run to run), figures and tables
under results/<experiment>/plots/, samples.txt (test predictions, or a language model's generated
text at several temperatures), and adds everything to the MLflow run `train` opened.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.core import paths, storage
from pipeline.datasets import processed
from pipeline.evaluation import assessment, speed
from pipeline.models import persistence
from pipeline.tracking import runs
from pipeline.tracking.run import Run
from stages import cli


def read_history(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def main(argv: list[str] | None = None) -> None:
    experiment = cli.load_experiment(__doc__, argv)
    results, model_dir = paths.results_dir(experiment.name), paths.model_dir(experiment.name)
    data = processed.load(paths.processed_dir(experiment.dataset))
    model = persistence.load(model_dir)
    previous_run = storage.read_json(results / "run.json").get("run_id")

    with runs.run(experiment, stage=f"evaluate@{experiment.name}", run_id=previous_run) as run:
        with storage.atomic_dir(results / "plots") as figures_dir:
            outcome = assessment.assess(
                model, data, figures_dir=figures_dir, history=read_history(results / "history.csv")
            )
        metrics = {**outcome.metrics, "model_size_bytes": speed.directory_size_bytes(model_dir)}
        details = {**outcome.details, "inference": assessment.inference_speed(model, data)}
        storage.write_json(results / "metrics.json", metrics)
        storage.write_text(results / "samples.txt", outcome.samples)
        log_evaluation(run, results, metrics, details)
    storage.write_json(results / "details.json", {**details, "tracking": run.record()})


def log_evaluation(run: Run, results: Path, metrics: dict, details: dict) -> None:
    """What an evaluation adds to the run (also `stages.backfill`): metrics, figures, samples, details.

    The measured inference speed lives in details.json, apart from the metrics DVC compares, and is
    logged to MLflow with them (`inference_samples_per_second`).
    """
    run.log_metrics({**metrics, "inference": details["inference"]})
    run.log_artifacts([results / "plots", results / "samples.txt"], artifact_path="evaluation")
    run.log_dict(details, "evaluation/details.json")


if __name__ == "__main__":
    cli.run(main)
