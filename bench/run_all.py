"""Run every benchmark and assemble bench/RESULTS.md: machine, versions and date, then one section each.

`python -m bench.run_all` is the full run RESULTS.md reports (`make bench`); `--quick` runs every
benchmark on small data with few repeats (`make bench-quick`). Each benchmark runs in its own process,
so one's TensorFlow state or failure never touches the next: a failed benchmark gets a section saying so
and the others still run. The header is rewritten after each benchmark, so partial results are visible.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import commands, machine, results
from pipeline.core import console, markdown
from pipeline.workflow.project_copy import ROOT

BENCHMARKS = tuple(results.SECTIONS)
WHAT = {
    "accuracy": "test accuracy of every default experiment vs the published figure; train time",
    "overhead": "`dvc repro` of one training run vs a plain Keras script; where the extra time goes",
    "incremental": "no-op `dvc repro`; stages run and time saved after editing one model",
    "throughput": "samples/s of DNN / CNN / LSTM: tf.data vs NumPy, XLA on vs off",
    "mlflow_cost": "tracking calls per run: SQLite file vs local `mlflow server` vs the team stack",
    "continuous": "co2 suite: `dvc repro` with an unchanged live source vs `dvc status`; a retrain",
    "remote": "`dvc push` / `dvc pull` MB/s: the team stack's S3 remote vs a local directory remote",
    "tune": "`make tune` of digits-cnn: best point vs the default in a time budget; 2 workers vs 1",
}

DISPLAY_NAMES = {
    "python": "Python",
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "mlflow": "MLflow",
    "dvc": "DVC",
    "numpy": "NumPy",
}


def _anchor(title: str) -> str:
    """GitHub's anchor for a heading."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return "#" + kept.replace(" ", "-")


def header(info: dict[str, Any], args: argparse.Namespace, done: dict[str, tuple[float, int | None]]) -> str:
    gpus = ", ".join(info["gpus"]) or "none"
    memory = f", {info['memory_gb']:.0f} GB RAM" if info["memory_gb"] else ""
    rows = [
        ["date", info["date"]],
        ["machine", f"{info['cpu']}, {info['cores']} cores{memory}"],
        ["GPU", gpus],
        ["OS", info["os"]],
        ["load average at start (1 min)", f"{info['load_average']:.2f}"],
        ["commit", f"`{info['commit']}`"],
        *([DISPLAY_NAMES.get(name, name), version] for name, version in info["versions"].items()),
    ]
    command = " ".join(
        ["python -m bench.run_all"]
        + (["--quick"] if args.quick else [])
        + (["--only", *args.only] if args.only != list(BENCHMARKS) else [])
        + (["--reuse"] if args.reuse else [])
    )
    lines = ["# Benchmark results"]
    if args.quick:
        lines.append(
            "> **Quick run** (`--quick`): subsampled data, few epochs and repeats. It shows that the "
            "benchmarks work and what they report; its figures are **not** the reference ones — those "
            "come from `make bench` (the full run) on a quiet machine."
        )
    lines += [
        f"Produced by `{command}` (see [bench/README.md](README.md) to reproduce). Times are medians of "
        "several runs and every ratio comes from runs made side by side in one invocation; no absolute time "
        "here is a pass/fail criterion of the test suite.",
        markdown.table(["", ""], rows),
    ]
    status_rows = []
    for name in BENCHMARKS:
        title = results.SECTIONS[name]
        if name in done:
            seconds, code = done[name]
            status = "ok" if code == 0 else f"**failed** (exit {code})"
            status_rows.append(
                [f"[{title}]({_anchor(title)})", WHAT[name], f"{seconds / 60:.1f} min", status]
            )
        else:
            status = "pending" if name in args.only else "not in this run: its section says when it ran"
            status_rows.append([f"[{title}]({_anchor(title)})", WHAT[name], "—", status])
    lines.append(markdown.table(["benchmark", "measures", "wall time", "status"], status_rows, "llrl"))
    return "\n\n".join(lines)


def run_one(name: str, args: argparse.Namespace) -> int:
    cmd = [sys.executable, "-m", f"bench.{name}", "--results", str(args.results)]
    if args.quick:
        cmd.append("--quick")
    if args.keep:
        cmd.append("--keep")
    if args.reuse and name == "accuracy":
        cmd.append("--reuse")
    commands.log.info("running %s", " ".join(cmd[1:]))
    return subprocess.run(cmd, cwd=ROOT, env=commands.project_env()).returncode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every benchmark in its quick mode")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS), metavar="NAME")
    parser.add_argument("--reuse", action="store_true", help="accuracy: read the workspace's results/")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project copies")
    parser.add_argument("--results", type=Path, default=results.RESULTS_FILE, help="the RESULTS.md to write")
    args = parser.parse_args(argv)
    console.start_logging()
    info = machine.describe()
    done: dict[str, tuple[float, int | None]] = {}
    results.update_results("header", header(info, args, done), args.results)
    for name in args.only:
        start = time.perf_counter()
        code = run_one(name, args)
        done[name] = (time.perf_counter() - start, code)
        if code != 0:
            results.update_results(
                name,
                f"## {results.SECTIONS[name]}\n\n**Failed** in the last run (exit code {code}); "
                f"run `python -m bench.{name}{' --quick' if args.quick else ''}` to see why.",
                args.results,
            )
        results.update_results("header", header(info, args, done), args.results)
    total = sum(seconds for seconds, _ in done.values())
    failed = [name for name, (_, code) in done.items() if code != 0]
    commands.log.info(
        "done in %.1f min; %s", total / 60, f"failed: {', '.join(failed)}" if failed else "all ok"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
