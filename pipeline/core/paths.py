"""Where stages read and write, relative to the folder `dvc repro` runs them in (dvc.yaml's).

dvc.yaml spells the same paths as its stages' outputs; tests/test_dag.py checks that both agree.
The stages, the retrain driver and the benchmarks all read them here.
"""

from __future__ import annotations

from pathlib import Path

SOURCES_DIR = Path("sources")  # per data set a link to the local files it reads, or a stamp
FINGERPRINTS_DIR = Path("fingerprints")  # per stage, the hashes of the code it imports
CHECKPOINTS_DIR = Path("checkpoints")  # Keras BackupAndRestore state: outside DVC outputs, so it survives
REPORTS_DIR = Path("reports")
LEADERBOARD = REPORTS_DIR / "leaderboard.md"
LEADERBOARD_PLOT = REPORTS_DIR / "leaderboard.png"
PROMOTION = REPORTS_DIR / "promotion.json"
SCHEMAS_DIR = Path("schemas")  # per table data set the pandera schema validate@ checks it against: committed
DRIFT_DIR = REPORTS_DIR / "drift"

# an experiment's files under results_dir(experiment): train@ writes the first three, evaluate@ the rest
TRAIN_SUMMARY = "train.json"
RUN_RECORD = "run.json"
HISTORY = "history.csv"
DETAILS = "details.json"
SAMPLES = "samples.txt"
METRICS = "metrics.json"
PLOTS = "plots"
SNAPSHOT = "snapshot.json"  # in a table's raw directory, beside its data


def raw_dir(dataset: str) -> Path:
    return Path("data/raw") / dataset


def schema_file(dataset: str) -> Path:
    return SCHEMAS_DIR / f"{dataset}.yaml"


def reference_dir(dataset: str) -> Path:
    """Samples of the snapshots validate@ passed, to measure the next one's drift against."""
    return Path("data/reference") / dataset


def drift_report(dataset: str) -> Path:
    return DRIFT_DIR / f"{dataset}.json"


def drift_plot(dataset: str) -> Path:
    return DRIFT_DIR / f"{dataset}.png"


def snapshot_file(dataset: str) -> Path:
    """What one fetch of a table source holds and where it came from (pipeline.datasets.snapshot)."""
    return raw_dir(dataset) / SNAPSHOT


def processed_dir(dataset: str) -> Path:
    return Path("data/processed") / dataset


def model_dir(experiment: str) -> Path:
    return Path("models") / experiment


def results_dir(experiment: str) -> Path:
    return Path("results") / experiment


def metrics_file(experiment: str) -> Path:
    """The test/val/train metrics evaluate@ writes: what `dvc metrics` and the retrain gate read."""
    return results_dir(experiment) / METRICS
