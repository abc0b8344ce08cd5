"""Benchmark 1: every default experiment's test score next to the published figure for the same model.

Runs `dvc repro` of the default pipeline and of the Fashion-MNIST suite in a project copy (with
`--reuse`, reads the workspace's results/ and fashion/results/ instead), then fits the Fashion-MNIST
benchmark's other scikit-learn baselines (MLP, gradient boosting, k-NN, logistic regression) with the
pipeline's own code (`training.fit`, `prediction.predict`, `scores.classification_metrics`) on the
same splits.

`--quick`: digits-svc, and dense-128 (2 epochs) and the SVC on a 3,000 / 1,000-image Fashion-MNIST
subsample, served to the pipeline as a mirror so download, checksums and preprocessing run unchanged.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import yaml
from threadpoolctl import threadpool_limits

from bench import cli, commands, fashion, results
from pipeline import config
from pipeline.config import Experiment
from pipeline.core import markdown, metrics, paths, storage
from pipeline.datasets import processed
from pipeline.datasets.processed import ProcessedData, Split
from pipeline.evaluation import scores
from pipeline.models import prediction, training
from pipeline.workflow import dvc_log, project_copy
from pipeline.workflow.project_copy import ROOT

log = logging.getLogger("bench.accuracy")

FASHION = "fashion_mnist"
QUICK_TRAIN, QUICK_TEST = 3000, 1000
QUICK_EXTRA_TRAIN = 1000  # --quick: the extra baselines fit on fewer images, gradient boosting for 20 rounds
QUICK_OVERRIDES = {"hist_gradient_boosting": {"max_iter": 20}}
# experiment -> (figure, how to show it, source). Accuracy unless the experiment's task says otherwise.
PUBLISHED: dict[str, tuple[float, str, str]] = {
    "fashion_mnist-dense128": (0.8793, "0.8793", "TensorFlow tutorial *Basic classification* (Dense 128)"),
    "fashion_mnist-cnn": (0.92, "≥ 0.92", "simple CNNs in the Fashion-MNIST benchmark: 0.916–0.932"),
    "fashion_mnist-svc": (0.897, "0.897", "Fashion-MNIST benchmark: SVC C=10, RBF"),
    "fashion_mnist-random_forest": (0.873, "0.873", "Fashion-MNIST benchmark: RandomForest, 100 trees"),
    "fashion_mnist-mlp": (
        0.871,
        "0.871",
        "Fashion-MNIST benchmark: MLPClassifier (100,), ReLU (here with early stopping)",
    ),
    "fashion_mnist-hist_gradient_boosting": (
        0.880,
        "0.880",
        "Fashion-MNIST benchmark: GradientBoosting, 100 trees (here the histogram variant)",
    ),
    "fashion_mnist-knn": (
        0.854,
        "0.854",
        "Fashion-MNIST benchmark: KNeighbors (here k=5, distance-weighted)",
    ),
    "fashion_mnist-logreg": (0.842, "0.842", "Fashion-MNIST benchmark: LogisticRegression (here C=1, L2)"),
    "digits-svc": (0.97, "0.97", "scikit-learn digits example: SVC γ=0.001 on a 50/50 split"),
    "fashion_mnist-hog_svc": (0.926, "0.926", "Fashion-MNIST benchmark: HOG + SVM (contributed result)"),
    "fashion_mnist-mnist_cnn": (
        0.9917,
        "0.9917 (MNIST)",
        "Keras example mnist_cnn (on MNIST; ≥ 0.91 expected here)",
    ),
    "fashion_mnist-mlp512": (0.9855, "0.9855 (MNIST)", "Keras example mnist_mlp (on MNIST)"),
    "mnist-mnist_cnn": (0.9917, "0.9917", "Keras example mnist_cnn"),
    "mnist-mlp512": (0.9855, "0.9855", "Keras example mnist_mlp"),
}
# The Fashion-MNIST benchmark's other scikit-learn baselines, as the pipeline's registry names them.
EXTRA_BASELINES: dict[str, dict[str, Any]] = {
    "mlp": {"estimator": "mlp", "hyperparameters": {"hidden_layer_sizes": [100], "early_stopping": True}},
    "hist_gradient_boosting": {"estimator": "hist_gradient_boosting", "hyperparameters": {}},
    "knn": {"estimator": "knn", "hyperparameters": {"n_neighbors": 5, "weights": "distance"}},
    "logreg": {"estimator": "logistic_regression", "hyperparameters": {"C": 1.0, "max_iter": 1000}},
}


# --- the pipeline runs ---------------------------------------------------------------------------


def shrink_default(params: dict) -> None:
    """--quick: digits and its SVC only."""
    params["datasets"] = {"digits": params["datasets"]["digits"]}
    params["experiments"] = {"digits-svc": params["experiments"]["digits-svc"]}


def shrink_fashion(mirror: Path, files: dict) -> Any:
    """--quick: the subsample mirror, dense-128 for 2 epochs and the SVC."""

    def edit(params: dict) -> None:
        fashion.use_mirror(params, mirror, files)
        experiments = params["experiments"]
        params["experiments"] = {
            "fashion_mnist-dense128": {**experiments["fashion_mnist-dense128"], "train": {"epochs": 2}},
            "fashion_mnist-svc": experiments["fashion_mnist-svc"],
        }

    return edit


def run_pipelines(copy: Path, quick: bool) -> dict[str, dict[str, Any]]:
    """`dvc repro` of the default pipeline, then of the Fashion-MNIST suite; wall time and stages of each."""
    runs = {}
    env = commands.project_env(copy)
    for label, project in (("the default pipeline", copy), ("the Fashion-MNIST suite", copy / "fashion")):
        log.info("dvc repro in %s (%s)", project, "quick" if quick else "full")
        timed = commands.run(["dvc", "repro"], project, env=env)
        runs[label] = {"seconds": timed.seconds, "stages": len(dvc_log.executed_stages(timed.stdout))}
    return runs


# --- reading results -----------------------------------------------------------------------------


def experiment_rows(project: Path, params_file: Path) -> list[dict[str, Any]]:
    """One row per experiment of a params file: its primary test metric, train time and reference."""
    params = config.load(params_file)
    rows = []
    for name, spec in params.experiments.items():
        found = project / paths.results_dir(name)
        row: dict[str, Any] = {"experiment": name, "dataset": spec.dataset, "model": spec.model}
        if not (found / paths.METRICS).exists():
            rows.append({**row, "missing": True})
            continue
        test = storage.read_json(found / paths.METRICS)["test"]
        trained = storage.read_json(found / paths.TRAIN_SUMMARY)
        # the metric promote judges the task on (face completion: the RMSE of its pixels)
        is_completion = trained["family"] == "face_completion"
        spec = metrics.spec("rmse" if is_completion else params.promote.metrics[trained["task"]])
        row.update(
            metric=f"pixel {spec.label}" if is_completion else spec.label,
            digits=spec.digits,
            value=test[spec.name],
            fit_seconds=trained["fit_seconds"],
            epochs=trained.get("epochs_run") or None,
        )
        if name in PUBLISHED:
            row["published"], row["published_text"], row["source"] = PUBLISHED[name]
        elif "unigram_bits_per_char" in test:
            row["published_text"] = f"unigram {test['unigram_bits_per_char']:.2f}"
            row["source"] = "character frequencies without context, same split (lower is better)"
        elif "persistence_rmse" in test:
            row["published_text"] = f"persistence {test['persistence_rmse']:.1f}"
            row["source"] = "naive last-value forecast on the same split (lower is better)"
        rows.append(row)
    return rows


# --- extra scikit-learn baselines ------------------------------------------------------------------


def subsample(data: ProcessedData, n_train: int, n_test: int) -> ProcessedData:
    def head(split: Split, n: int) -> Split:
        return Split(split.x[:n], split.y[:n])

    return ProcessedData(
        data.schema, head(data.train, n_train), head(data.val, n_test), head(data.test, n_test)
    )


def extra_experiments(params_file: Path, quick: bool) -> list[Experiment]:
    """The extra baselines as experiments of the suite's params, resolved the way stages resolve theirs."""
    raw = yaml.safe_load(params_file.read_text())
    for name, spec in EXTRA_BASELINES.items():
        hyperparameters = {**spec["hyperparameters"], **(QUICK_OVERRIDES.get(name, {}) if quick else {})}
        model = {"family": "sklearn", "estimator": spec["estimator"], "hyperparameters": hyperparameters}
        raw["models"]["sklearn"][f"bench_{name}"] = model
        raw["experiments"][f"{FASHION}-{name}"] = {
            "dataset": FASHION,
            "backend": "sklearn",
            "model": f"bench_{name}",
        }
    params = config.Params.model_validate(raw)
    return [config.experiment(params, f"{FASHION}-{name}") for name in EXTRA_BASELINES]


def fit_extra_baselines(data: ProcessedData, params_file: Path, quick: bool) -> list[dict[str, Any]]:
    """Fit each extra baseline on data.train with the pipeline's code; test accuracy and fit time."""
    if quick:
        data = subsample(data, QUICK_EXTRA_TRAIN, QUICK_TEST)
    rows = []
    for experiment in extra_experiments(params_file, quick):
        log.info("fitting %s on %d images", experiment.name, len(data.train.x))
        # --quick runs anywhere, busy machines included: OpenMP threads of gradient boosting then spin
        # against other processes (10x slower here with 2 threads than with 1 on a loaded 2-core machine)
        with threadpool_limits(1 if quick else None):
            result = training.fit(experiment, data)
        proba = prediction.predict(result.model, data.test.x, data.schema)
        accuracy = scores.classification_metrics(data.test.y, proba)["accuracy"]
        figure, shown, source = PUBLISHED[experiment.name]
        rows.append(
            {
                "experiment": experiment.name,
                "dataset": FASHION,
                "model": experiment.model_name.removeprefix("bench_"),
                "metric": "accuracy",
                "digits": metrics.spec("accuracy").digits,
                "value": accuracy,
                "fit_seconds": result.fit_seconds,
                "published": figure,
                "published_text": shown,
                "source": source,
                "extra": True,
            }
        )
    return rows


# --- the section ---------------------------------------------------------------------------------


def _delta(row: dict[str, Any]) -> str:
    if "published" not in row or "value" not in row:
        return "—"
    return f"{100 * (row['value'] - row['published']):+.1f} pt"


def render(rows: list[dict[str, Any]], runs: dict[str, dict[str, Any]], quick: bool, reuse: bool) -> str:
    lines = []
    if quick:
        lines.append(
            f"Quick run: Fashion-MNIST is a {QUICK_TRAIN:,} / {QUICK_TEST:,}-image subsample (the extra "
            f"baselines ¹ fit on {QUICK_EXTRA_TRAIN:,} images, gradient boosting for 20 rounds) and "
            "dense-128 trains for 2 epochs, so these scores are **not** comparable with the published ones; "
            "the full run uses all 60,000 / 10,000 images and the suites' own params."
        )
    if reuse:
        lines.append(
            "Default experiments read from the workspace's results/ and fashion/results/ (`--reuse`)."
        )
    for label, info in runs.items():
        lines.append(f"`dvc repro` of {label}: {info['seconds'] / 60:.1f} min, {info['stages']} stages.")
    table_rows = []
    for row in rows:
        name = row["experiment"] + (" ¹" if row.get("extra") else "")
        if row.get("missing"):
            table_rows.append([row["dataset"], name, "—", "not run", "—", "—", "—", "—"])
            continue
        digits = row["digits"]
        table_rows.append(
            [
                row["dataset"],
                name,
                row["metric"],
                f"{row['value']:.{digits}f}",
                row.get("published_text", "—"),
                _delta(row),
                results.fmt(row["fit_seconds"], 1),
                row.get("source", ""),
            ]
        )
    lines.append(
        markdown.table(
            [
                "data set",
                "experiment",
                "test metric",
                "this pipeline",
                "published",
                "Δ",
                "train s",
                "reference",
            ],
            table_rows,
            "llllrrrl",
        )
    )
    lines.append(
        "Test split of each data set (Fashion-MNIST: the official 10,000 test images; digits, iris, "
        "sunspots: the pipeline's seeded split), seed 42, CPU. *train s* is the model's fit alone "
        "(`fit_seconds` in results/<experiment>/train.json). ¹ not a default experiment: fitted in-process "
        "with the pipeline's own code (`training.fit` on the processed splits) to complete the benchmark's "
        "scikit-learn baselines. The published figures come from other splits and set-ups (the benchmark's "
        "best configuration per classifier, the tutorial's own run): a gap of a point either way is within "
        "their spread."
    )
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    arguments = cli.parser(__doc__)
    arguments.add_argument(
        "--reuse", action="store_true", help="read the workspace's results/ instead of running dvc repro"
    )
    args = arguments.parse_args(argv)
    started = time.perf_counter()
    fashion.require()
    runs: dict[str, dict[str, Any]] = {}
    with commands.workdir("accuracy", keep=args.keep) as work:
        if args.reuse:
            project = ROOT
        else:
            mirror = files = None
            if args.quick:
                mirror = work / "mirror"
                files = fashion.subsample_mirror(mirror, QUICK_TRAIN, QUICK_TEST)
            project = project_copy.make(
                work / "project",
                edit_params=shrink_default if args.quick else None,
                suite="fashion",
                edit_suite_params=shrink_fashion(mirror, files) if args.quick else None,
            )
            runs = run_pipelines(project, args.quick)
        data_dir = project / "fashion" / paths.processed_dir(FASHION)
        if not (data_dir / "schema.json").exists():
            raise commands.BenchError(f"{data_dir} not found: run `make fashion` first, or drop --reuse")
        extra = fit_extra_baselines(processed.load(data_dir), project / "fashion" / "params.yaml", args.quick)
        rows = experiment_rows(project, project / "params.yaml")  # read last: the freshest results
        rows += experiment_rows(project / "fashion", project / "fashion" / "params.yaml") + extra
    body = render(rows, runs, args.quick, args.reuse)
    results.publish("accuracy", args, body, {"rows": rows, "pipelines": runs}, started)


if __name__ == "__main__":
    cli.main_wrapper(main)
