"""DVC stage `train@<experiment>`: fit one experiment's model into models/<experiment>/.

Opens the experiment's MLflow run (its id goes to results/<experiment>/run.json for `evaluate`),
logs params, per-epoch history, the data set and the model. A killed Keras run resumes from its
last completed epoch on the next `dvc repro`. In a tuning trial (`make tune`) a Keras fit reports
each epoch to the study and stops, writing nothing, when the pruner says so.
"""

from __future__ import annotations

import csv
import io

from pipeline import config
from pipeline.core import paths, storage
from pipeline.datasets import drift, processed
from pipeline.models import building, families, persistence, training
from pipeline.tracking import runs
from pipeline.tracking.run import Run
from pipeline.tuning import pruning
from stages import cli


def history_csv(rows: list[dict]) -> str:
    """Per-epoch history as CSV for `dvc plots` (a header only for models fitted in one go)."""
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["epoch"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    experiment = cli.load_experiment(__doc__, argv)
    data_dir = paths.processed_dir(experiment.dataset)
    schema, _ = processed.load_schema(data_dir)
    building.check_compatible(experiment.model, schema, name=experiment.model_name)  # before any heavy work
    data = processed.load(data_dir)
    data_hash = processed.data_hash(data_dir)
    results = paths.results_dir(experiment.name)

    with runs.run(experiment, stage=f"train@{experiment.name}") as run:
        backup = training.backup_dir_for(paths.CHECKPOINTS_DIR, experiment, data_hash)
        watcher = pruning.watcher(experiment.name, experiment.backend)  # in a tuning trial only
        callbacks = watcher.callbacks() if watcher else []
        result = training.fit(experiment, data, backup_dir=backup, callbacks=callbacks)
        if watcher:
            watcher.stop_if_pruned(run)
        persistence.save(result.model, paths.model_dir(experiment.name), result.hyperparameters)
        summary = {
            "experiment": experiment.name,
            "dataset": experiment.dataset,
            "model": experiment.model_name,
            "family": experiment.model.family,
            "task": schema.task,
            "data_hash": data_hash,
            "fit_seconds": result.fit_seconds,
            "epochs_run": len(result.history),
            "resumed_from_epoch": result.resumed_from_epoch,
            "device": result.device,
        }
        storage.write_text(results / "history.csv", history_csv(result.history))
        storage.write_json(results / "train.json", summary)
        log_training(run, experiment, summary, result.hyperparameters, result.history, result.model, data)
    storage.write_json(results / "run.json", run.record())


def log_training(
    run: Run,
    experiment: config.Experiment,
    summary: dict,
    hyperparameters: dict,
    history: list[dict],
    model: object,
    data: processed.ProcessedData,
) -> None:
    """What a training run logs (also `stages.backfill`, from the outputs): `summary` is train.json."""
    data_dir = paths.processed_dir(experiment.dataset)
    dataset_params = {"name": experiment.dataset, **experiment.dataset_config.model_dump(mode="json")}
    run.log_params({"experiment": experiment.name, "dataset": dataset_params, **hyperparameters})
    device = summary["device"]
    run.set_tags({"device": device.get("device_type", "CPU"), "device.details": device})
    schema = data.schema
    summary_schema = {key: value for key, value in schema.__dict__.items() if key != "vocabulary"}
    run.log_dataset(experiment.dataset, summary["data_hash"], source=str(data_dir), schema=summary_schema)
    # what turns new raw data into the model's inputs (scaler, columns, classes; text: the vocabulary)
    inputs = [data_dir / processed.SCHEMA_FILE]
    if schema.vocabulary is not None:
        inputs.append(data_dir / processed.VOCABULARY_FILE)
    run.log_artifacts(inputs, artifact_path=processed.ARTIFACT_DIR)
    log_drift(run, experiment.dataset)
    run.log_history(history)
    run.log_metrics({"fit_seconds": summary["fit_seconds"]})
    flavor = families.get(experiment.model.family).flavor
    run.log_model(model, flavor=flavor, input_example=data.train.x[:5])


def log_drift(run: Run, dataset: str) -> None:
    """validate@'s drift report and plot of the data the model learnt from (tables only)."""
    report_path = paths.drift_report(dataset)
    if not report_path.is_file() or (report := storage.read_json(report_path))["status"] == "skipped":
        return
    run.log_artifacts([report_path, paths.drift_plot(dataset)], artifact_path="data/drift")
    run.log_metrics(drift.summary(report))


if __name__ == "__main__":
    cli.run(main)
