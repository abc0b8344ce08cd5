"""Benchmark 2: the pipeline's overhead over a minimal hand-written Keras script.

The same model (Fashion-MNIST dense-128), data (the processed train / val arrays), epochs and batch size,
trained (a) by `bench/plain_keras.py` — load the arrays, build, compile, fit, save — and (b) by
`dvc repro -f -s train@fashion_mnist-dense128` in the Fashion-MNIST suite of a project copy, MLflow
logging on (the suite's SQLite store). Pairs alternate which runs first; the ratio b/a is the median of the
per-pair ratios. Early stopping is off for the experiment so both train every epoch.

Where the extra time goes: `bench.profile_stage` runs the same train stage directly (no DVC) with timers
around its imports, data loading, fit, model saving and each MLflow call; the DVC share is the
`dvc repro` time minus that direct run's time in the same round. The evaluate@ stage is timed once,
apart (a plain script has none).

`--quick`: a 6,000 / 1,000-image subsample and 3 epochs (seconds of training, so the fixed costs
dominate and the ratio is far above the full run's); the probe runs once instead of every round.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from bench import cli, commands, fashion, profile_stage, results
from pipeline.core import markdown, paths
from pipeline.workflow import dvc_log, project_copy

log = logging.getLogger("bench.overhead")

EXPERIMENT = "fashion_mnist-dense128"
TARGET_RATIO = 1.10
FULL = {"epochs": 20, "batch_size": 32, "rounds": 3, "n_train": None, "n_test": None}
QUICK = {"epochs": 3, "batch_size": 32, "rounds": 3, "n_train": 6000, "n_test": 1000}

# (label, plain script's key, probe's key); None: that side has no such part. "mlflow: other" sums the
# probe's per-method timings other than opening / ending the run and logging the model.
BREAKDOWN = (
    ("Python start-up and exit", "start-up", "start-up"),
    ("import Keras / TensorFlow (+ NumPy)", "imports", "import TensorFlow"),
    ("import the pipeline (pydantic, scikit-learn, …)", None, "import pipeline"),
    ("import MLflow", None, "import MLflow"),
    ("load data (pipeline: sha256 of every array checked)", "load data", "load data"),
    ("build + compile", "build, compile", "build, compile"),
    ("model.fit (pipeline: tf.data, history, per-epoch backup)", "fit", "fit"),
    ("save model", "save model", "save model"),
    ("MLflow: open run (store, experiment, tags)", None, "mlflow: open run"),
    ("MLflow: params, tags, data set, history, metrics", None, "mlflow: other"),
    ("MLflow: log model (+ signature)", None, "mlflow: log_model"),
    ("MLflow: end run", None, "mlflow: end run"),
    ("write results (train.json, history.csv, run.json)", None, "write results"),
    ("rest (params, checks, …)", None, "rest"),
)


def edit_suite(settings: dict[str, Any], mirror: Path | None, files: dict | None) -> Any:
    """One experiment: dense-128 with the benchmark's epochs and batch size, early stopping off."""

    def edit(params: dict) -> None:
        fashion.use_mirror(params, mirror, files)
        spec = params["experiments"][EXPERIMENT]
        train = {
            "epochs": settings["epochs"],
            "batch_size": settings["batch_size"],
            "early_stopping_patience": 0,
        }
        params["experiments"] = {EXPERIMENT: {**spec, "train": train}}

    return edit


def _group_mlflow(parts: dict[str, Any]) -> dict[str, float]:
    """The probe's parts with the per-method MLflow timings other than open / end / log_model summed."""
    grouped = {k: v for k, v in parts.items() if isinstance(v, float)}
    kept = ("mlflow: open run", "mlflow: end run", "mlflow: log_model")
    others = [k for k in grouped if k.startswith("mlflow: ") and k not in kept]
    grouped["mlflow: other"] = sum(grouped.pop(k) for k in others)
    return grouped


def measure(work: Path, settings: dict[str, Any], quick: bool) -> dict[str, Any]:
    mirror = files = None
    if settings["n_train"]:
        mirror = work / "mirror"
        files = fashion.subsample_mirror(mirror, settings["n_train"], settings["n_test"])
    copy = project_copy.make(
        work / "project", suite="fashion", edit_suite_params=edit_suite(settings, mirror, files)
    )
    env = commands.project_env(copy)
    suite = copy / "fashion"
    data_dir = suite / paths.processed_dir("fashion_mnist")
    train_target = f"train@{EXPERIMENT}"

    log.info("preparing the data and warming up (first run creates the MLflow store, compiles bytecode)")
    commands.run(["dvc", "repro", "preprocess@fashion_mnist"], suite, env=env)
    commands.run(["dvc", "repro", "-s", train_target], suite, env=env)
    evaluate = commands.run(["dvc", "repro", "-s", f"evaluate@{EXPERIMENT}"], suite, env=env)

    def run_plain() -> tuple[commands.Timed, dict[str, float]]:
        cmd = ["python", "-m", "bench.plain_keras", str(data_dir), str(settings["epochs"])]
        cmd += [str(settings["batch_size"]), str(work / "plain_model.keras")]
        timed = commands.run(cmd, suite, env=commands.with_bench(env))
        return timed, commands.with_rest(commands.last_json_line(timed.stdout), timed.seconds)

    def run_dvc() -> commands.Timed:
        timed = commands.run(["dvc", "repro", "-f", "-s", train_target], suite, env=env)
        if dvc_log.executed_stages(timed.stdout) != [train_target]:
            raise commands.BenchError(f"expected dvc to run {train_target} only:\n{timed.stdout}")
        return timed

    def run_probe() -> tuple[float, dict[str, float]]:
        wall, parts = profile_stage.measure("train", EXPERIMENT, suite, env)
        return wall, _group_mlflow(parts)

    pairs, probes, plain_parts = [], [], []
    for index in range(settings["rounds"]):
        with_probe = not quick or index == settings["rounds"] // 2
        steps = ["plain", "dvc", "probe"] if with_probe else ["plain", "dvc"]
        steps = steps[index % len(steps) :] + steps[: index % len(steps)]  # rotate: each goes first once
        pair: dict[str, float] = {}
        for step in steps:
            log.info("round %d/%d: %s", index + 1, settings["rounds"], step)
            if step == "plain":
                timed, parts = run_plain()
                pair["plain"], pair["plain_cpu"] = timed.seconds, timed.cpu_seconds
                plain_parts.append(parts)
            elif step == "dvc":
                timed = run_dvc()
                pair["dvc"], pair["dvc_cpu"] = timed.seconds, timed.cpu_seconds
            else:
                probes.append(run_probe())
                pair["probe"] = probes[-1][0]
        pair["ratio"] = pair["dvc"] / pair["plain"]
        pair["cpu_ratio"] = pair["dvc_cpu"] / pair["plain_cpu"]
        pairs.append(pair)
        log.info(
            "round %d: plain %.1f s, dvc repro %.1f s, ratio %.3f",
            *(index + 1, pair["plain"], pair["dvc"], pair["ratio"]),
        )

    keys = {key for parts in plain_parts + [p for _, p in probes] for key in parts}
    plain_median = {k: commands.median(p[k] for p in plain_parts if k in p) for k in keys}
    probe_median = {k: commands.median(p[k] for _, p in probes if k in p) for k in keys}
    dvc_seconds = commands.median(p["dvc"] for p in pairs)
    probe_wall = commands.median(wall for wall, _ in probes)
    return {
        "settings": settings,
        "n_train": _n_train(data_dir),
        "pairs": pairs,
        "ratio": commands.median(p["ratio"] for p in pairs),
        "cpu_ratio": commands.median(p["cpu_ratio"] for p in pairs),
        "plain_seconds": commands.median(p["plain"] for p in pairs),
        "dvc_seconds": dvc_seconds,
        "probe_seconds": probe_wall,
        # per round, so the difference is of runs made side by side
        "dvc_share": commands.median(p["dvc"] - p["probe"] for p in pairs if "probe" in p),
        "plain_parts": plain_median,
        "probe_parts": probe_median,
        "evaluate_seconds": evaluate.seconds,
    }


def _n_train(data_dir: Path) -> int:
    from pipeline.datasets import processed

    _, document = processed.load_schema(data_dir)
    return int(document["splits"]["train"]["n_samples"])


def render(result: dict[str, Any], quick: bool) -> str:
    settings = result["settings"]
    ratio = result["ratio"]
    verdict = "met" if ratio <= TARGET_RATIO else "not met"
    lines = [
        f"Fashion-MNIST dense-128 (Flatten → Dense 128 → softmax), {result['n_train']:,} training images, "
        f"{settings['epochs']} epochs, batch {settings['batch_size']}, validation every epoch; "
        f"{len(result['pairs'])} alternating pairs.",
        markdown.table(
            ["", "wall time (median)"],
            [
                ["(a) plain Keras script", f"{result['plain_seconds']:.1f} s"],
                ["(b) `dvc repro` of train@ (MLflow on)", f"{result['dvc_seconds']:.1f} s"],
                ["**ratio b/a** (median of per-pair ratios)", f"**{ratio:.3f}**"],
                ["extra seconds b − a", f"{result['dvc_seconds'] - result['plain_seconds']:.1f} s"],
                ["CPU-time ratio b/a (user + system, median)", f"{result['cpu_ratio']:.3f}"],
            ],
            "lr",
        ),
        "Per pair (plain s, dvc s, ratio): "
        + "; ".join(f"{p['plain']:.1f}, {p['dvc']:.1f}, {p['ratio']:.3f}" for p in result["pairs"])
        + ".",
        f"Target ≤ {TARGET_RATIO:.2f} for a ~1-minute training run: **{verdict}**"
        + (" (quick run: seconds of training, so fixed costs dominate)." if quick else "."),
        "**Where the time goes** (medians; the pipeline column is the train stage run directly with "
        "timers; DVC's share is `dvc repro` minus that direct run in the same round, so it carries the noise "
        "of two runs):",
    ]
    plain, probe = result["plain_parts"], result["probe_parts"]
    rows = []
    for label, plain_key, probe_key in BREAKDOWN:
        a = plain.get(plain_key, 0.0) if plain_key else 0.0
        b = probe.get(probe_key, 0.0)
        rows.append([label, results.fmt(a, 2) if plain_key else "—", results.fmt(b, 2), f"{b - a:+.2f}"])
    share = result["dvc_share"]
    rows.append(["DVC (`dvc repro` − the stage process)", "—", results.fmt(share, 2), f"{share:+.2f}"])
    total_a, total_b = result["plain_seconds"], result["dvc_seconds"]
    rows.append(
        [
            "**total** (measured (a), (b); the parts are medians, so they add up only roughly)",
            f"**{total_a:.2f}**",
            f"**{total_b:.2f}**",
            f"**{total_b - total_a:+.2f}**",
        ]
    )
    lines.append(markdown.table(["part", "plain s", "pipeline s", "extra s"], rows, "lrrr"))
    lines.append(
        f"Not in the ratio: the separate `evaluate@` stage (metrics on all three splits, confusion matrix, "
        f"learning curves, inference throughput, MLflow artifacts) took {result['evaluate_seconds']:.1f} s "
        "of `dvc repro` once; a plain script that only trains has no counterpart."
    )
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    arguments = cli.parser(__doc__)
    arguments.add_argument("--rounds", type=int, help="alternating pairs (default 3)")
    args = arguments.parse_args(argv)
    started = time.perf_counter()
    fashion.require()
    settings = dict(QUICK if args.quick else FULL)
    if args.rounds:
        settings["rounds"] = args.rounds
    with commands.workdir("overhead", keep=args.keep) as work:
        result = measure(work, settings, args.quick)
    results.publish("overhead", args, render(result, args.quick), result, started)


if __name__ == "__main__":
    cli.main_wrapper(main)
