"""Benchmark 5: what MLflow tracking costs one experiment run: the SQLite default, a local server and
the team stack.

In a project copy, the real train and evaluate stages of a 20-epoch Fashion-MNIST dense-128 run are run
through `bench.profile_stage`, which times each tracking call they make (open the run, params, tags,
data set, the 20 epochs of history, metrics, the model with its signature; then resume it, metrics,
figures, details) and the `import mlflow` each stage process pays. Stores: a SQLite file (the default
kind, here in a temporary directory), `mlflow server` on 127.0.0.1 (its own SQLite store and
artifact directory) and the team stack of `scripts/services` (login, PostgreSQL store, artifacts proxied
into the S3 store; brought up in a temporary state folder). Each stage is a fresh process, as under
`dvc repro`; runs alternate between the stores after one warm-up run each (the first run of a fresh
store migrates its schema: shown apart).
For comparison, the same 20-epoch history logged the naive way — one MLflow call per metric and
epoch — against the single `log_batch` call the pipeline makes.

The tracking cost does not depend on the data size, so both modes train on a 2,000-image subsample.
`--quick`: one timed run per store instead of five.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import cli, commands, fashion, profile_stage, results
from pipeline import config
from pipeline.core import markdown
from pipeline.tracking.runs import run as open_run
from pipeline.workflow import mlflow_server, project_copy
from pipeline.workflow import team_stack as stack

log = logging.getLogger("bench.mlflow_cost")

EXPERIMENT = "fashion_mnist-dense128"
EPOCHS = 20
N_TRAIN, N_TEST = 2000, 500
FULL_RUNS, QUICK_RUNS = 5, 1
TRAINING_MINUTE = 60.0  # cost shown as a share of a ~1-minute training run
STORES = ("SQLite file", "local server", "team stack")
HISTORY_METRICS = ("loss", "val_loss", "accuracy", "val_accuracy", "lr")


def edit_suite(mirror: Path, files: dict) -> Any:
    def edit(params: dict) -> None:
        fashion.use_mirror(params, mirror, files)
        spec = params["experiments"][EXPERIMENT]
        params["experiments"] = {
            EXPERIMENT: {**spec, "train": {"epochs": EPOCHS, "early_stopping_patience": 0}}
        }

    return edit


@contextlib.contextmanager
def logged_in(env: dict[str, str]) -> Iterator[None]:
    """The stack's login in this process's environment (stages inherit it; the other stores ignore it)."""
    names = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    previous = {name: os.environ.get(name) for name in names}
    os.environ.update({name: env[name] for name in names})
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def tracked_run(copy: Path, uri: str) -> dict[str, float]:
    """Train + evaluate of the experiment, each in a fresh process; seconds per MLflow part, by stage."""
    env = commands.project_env(copy, MLFLOW_TRACKING_URI=uri)
    found: dict[str, float] = {}
    for stage in ("train", "evaluate"):
        _, parts = profile_stage.measure(stage, EXPERIMENT, copy / "fashion", env)
        for key, value in parts.items():
            if key.startswith("mlflow: ") or key == "import MLflow":
                found[f"{stage}|{key.removeprefix('mlflow: ')}"] = value
    return found


def naive_versus_batched(uri: str, experiment: config.Experiment) -> dict[str, float]:
    """Seconds to log a 20-epoch history as one MLflow call per value, and as the one batch
    `Run.log_history` sends; each into a run of its own."""
    rows = [(epoch, name, 1.0 / epoch) for epoch in range(1, EPOCHS + 1) for name in HISTORY_METRICS]
    with commands.tracking_uri_set(uri), open_run(experiment, stage="bench-history-naive") as naive:
        start = time.perf_counter()
        for epoch, name, value in rows:
            naive.log_metrics({name: value}, step=epoch)
        naive_seconds = time.perf_counter() - start
    history = [
        {"epoch": epoch, **dict.fromkeys(HISTORY_METRICS, 1.0 / epoch)} for epoch in range(1, EPOCHS + 1)
    ]
    with commands.tracking_uri_set(uri), open_run(experiment, stage="bench-history-batched") as batched:
        start = time.perf_counter()
        batched.log_history(history)
        batched_seconds = time.perf_counter() - start
    if not (naive.active and batched.active):
        raise commands.BenchError(f"history runs did not log to {uri}: {naive.error or batched.error}")
    return {"naive": naive_seconds, "batched": batched_seconds, "values": len(rows)}


def measure(work: Path, runs: int) -> dict[str, Any]:
    mirror = work / "mirror"
    files = fashion.subsample_mirror(mirror, N_TRAIN, N_TEST)
    copy = project_copy.make(work / "project", suite="fashion", edit_suite_params=edit_suite(mirror, files))
    preprocess = ["dvc", "repro", "preprocess@fashion_mnist"]
    commands.run(preprocess, copy / "fashion", env=commands.project_env(copy))
    with (
        mlflow_server.serve(work / "server", timeout=120) as (server_uri, server_start),
        stack.running(Path(tempfile.gettempdir())) as services,
        logged_in(services.env),
    ):
        log.info("mlflow server answered /health after %.1f s", server_start)
        uris = {
            "SQLite file": f"sqlite:///{work / 'sqlite-store' / 'mlflow.db'}",
            "local server": server_uri,
            "team stack": services.env["MLFLOW_TRACKING_URI"],
        }
        first = {}
        for store, uri in uris.items():
            log.info("warm-up run on the %s (creates the store's schema and experiment)", store)
            first[store] = tracked_run(copy, uri)
        timed: dict[str, list[dict[str, float]]] = {store: [] for store in STORES}
        for index in range(runs):
            for store in STORES if index % 2 == 0 else tuple(reversed(STORES)):
                log.info("run %d/%d on the %s", index + 1, runs, store)
                timed[store].append(tracked_run(copy, uris[store]))
        experiment = config.experiment(config.load(copy / "fashion" / "params.yaml"), EXPERIMENT)
        history = {store: naive_versus_batched(uri, experiment) for store, uri in uris.items()}
    keys = sorted({key for found in timed.values() for parts in found for key in parts})
    medians = {
        store: {k: commands.median(p[k] for p in timed[store] if k in p) for k in keys} for store in STORES
    }
    return {
        "epochs": EPOCHS,
        "runs": runs,
        "server_start_seconds": server_start,
        "stack_ready_seconds": services.ready_seconds,
        "first_run": first,
        "runs_by_store": timed,
        "medians": medians,
        "history": history,
    }


def _calls(parts: dict[str, float]) -> float:
    return sum(v for k, v in parts.items() if not k.endswith("|import MLflow"))


def _imports(parts: dict[str, float]) -> float:
    return sum(v for k, v in parts.items() if k.endswith("|import MLflow"))


def _with_share(seconds: float) -> str:
    return f"**{1000 * seconds:,.0f}** ({100 * seconds / TRAINING_MINUTE:.1f} %)"


def render(result: dict[str, Any]) -> str:
    medians = result["medians"]
    keys = list(medians[STORES[0]])
    order = {"open run": 0, "end run": 99}
    keys.sort(key=lambda k: (k.split("|")[0] != "train", order.get(k.split("|")[1], 1), k))
    rows = []
    for key in keys:
        stage, call = key.split("|")
        if call == "import MLflow":
            continue
        call = "open run (resume)" if (stage, call) == ("evaluate", "open run") else call
        rows.append([f"{stage}@: {call}", *(results.fmt(1000 * medians[s].get(key), 0) for s in STORES)])
    calls = {s: _calls(medians[s]) for s in STORES}
    imports = {s: _imports(medians[s]) for s in STORES}
    rows.append(["**tracking calls per run**", *(f"**{1000 * calls[s]:,.0f}**" for s in STORES)])
    rows.append(
        ["`import mlflow` (train and evaluate processes)", *(f"{1000 * imports[s]:,.0f}" for s in STORES)]
    )
    rows.append(
        [
            f"**total per run**, share of a {TRAINING_MINUTE:.0f}-s training run",
            *(_with_share(calls[s] + imports[s]) for s in STORES),
        ]
    )
    first = {s: _calls(result["first_run"][s]) for s in STORES}
    rows.append(["first run on a fresh store: tracking calls", *(f"{1000 * first[s]:,.0f}" for s in STORES)])
    history = result["history"]
    n_values = history[STORES[0]]["values"]
    history_rows = [
        [f"{n_values} × `Run.log_metrics` (one call per metric and epoch)"]
        + [results.fmt(1000 * history[s]["naive"], 0) for s in STORES],
        ["1 × `log_batch` (what `Run.log_history` sends)"]
        + [results.fmt(1000 * history[s]["batched"], 1) for s in STORES],
    ]
    return "\n\n".join(
        [
            f"One {result['epochs']}-epoch dense-128 run (train@ + evaluate@, each a fresh process as under "
            f"`dvc repro`), milliseconds, median of {result['runs']} run(s) per store after a warm-up run. "
            "The local `mlflow server` (1 worker, SQLite behind it) took "
            f"{result['server_start_seconds']:.1f} s to answer /health; the team stack "
            "(`scripts/services up`: PostgreSQL, the S3 store, `mlflow server --app-name basic-auth` with "
            f"2 workers, artifacts proxied into the bucket) was ready in {result['stack_ready_seconds']} s.",
            markdown.table(["tracking call", *(f"{s} ms" for s in STORES)], rows, "lrrr"),
            f"Logging the {result['epochs']}-epoch history ({len(HISTORY_METRICS)} metrics per epoch):",
            markdown.table(["how", *(f"{s} ms" for s in STORES)], history_rows, "lrrr"),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    args = cli.parser(__doc__).parse_args(argv)
    started = time.perf_counter()
    fashion.require()
    with commands.workdir("mlflow-cost", keep=args.keep) as work:
        result = measure(work, QUICK_RUNS if args.quick else FULL_RUNS)
    results.publish("mlflow_cost", args, render(result), result, started)


if __name__ == "__main__":
    cli.main_wrapper(main)
