"""Benchmark 6: continuous training on the co2 suite — what checking a live source costs when nothing
changed, and what a retrain costs when it did.

In a project copy of the co2 suite fed by scripts/co2-feed over HTTP on 127.0.0.1 (data up to 1990):
one full `dvc repro` (timed); then, with the feed unchanged, the check (`make refresh`'s
`PIPELINE_REFRESH=1 dvc repro -s -f sources`: the stage asks the feed, finds the same ETag and writes
the same token) and the `dvc repro` after it
(nothing runs), next to `dvc status` (DVC reading the pipeline, running nothing); then, each time
after the feed publishes one more year, the check and `dvc repro` (download, validate, preprocess and
every experiment of co2 run again). Medians of several runs.

`--quick`: the ridge experiment only, 3 runs of each.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from bench import cli, commands, results
from pipeline.core import markdown
from pipeline.datasets import stamps
from pipeline.workflow import co2_feed, dvc_log, project_copy

log = logging.getLogger("bench.continuous")

FIRST_YEAR = 1990
CHECK = ["dvc", "repro", "--single-item", "--force", "sources"]  # with PIPELINE_REFRESH=1: make refresh


def suite_params(url: str, quick: bool):
    def edit(params: dict) -> None:
        params["datasets"]["co2"]["url"] = url
        if quick:
            params["experiments"] = {"co2-ridge": params["experiments"]["co2-ridge"]}

    return edit


def measure(suite: Path, feed: Path, repeats: int) -> dict[str, Any]:
    env = commands.project_env(suite.parent)
    refresh = {**env, stamps.REFRESH_ENV: "1"}  # the check asks the live sources
    log.info("full dvc repro")
    full = commands.run(["dvc", "repro"], suite, env=env)
    figures: dict[str, list[float]] = {"check": [], "noop": [], "status": [], "changed": []}
    for index in range(repeats):
        log.info("unchanged feed %d/%d", index + 1, repeats)
        figures["check"].append(commands.run(CHECK, suite, env=refresh).seconds)
        timed = commands.run(["dvc", "repro"], suite, env=env)
        if dvc_log.executed_stages(timed.stdout):
            raise commands.BenchError(f"dvc repro after an unchanged feed ran stages:\n{timed.stdout}")
        figures["noop"].append(timed.seconds)
        figures["status"].append(commands.run(["dvc", "status"], suite, env=env).seconds)
    changed_stages: list[str] = []
    for index in range(repeats):
        log.info("changed feed %d/%d: %s", index + 1, repeats, co2_feed.feed(feed, "advance"))
        check = commands.run(CHECK, suite, env=refresh)
        timed = commands.run(["dvc", "repro"], suite, env=env)
        figures["changed"].append(check.seconds + timed.seconds)
        changed_stages = dvc_log.executed_stages(timed.stdout)
    return {
        "full_seconds": full.seconds,
        "full_stages": len(dvc_log.executed_stages(full.stdout)),
        **{f"{name}_seconds": values for name, values in figures.items()},
        "changed_stages": changed_stages,
    }


def _row(label: str, seconds: list[float]) -> list[str]:
    return [label, f"{commands.median(seconds):.2f}", " / ".join(f"{s:.2f}" for s in seconds)]


def render(result: dict[str, Any], quick: bool) -> str:
    check, noop = commands.median(result["check_seconds"]), commands.median(result["noop_seconds"])
    status = commands.median(result["status_seconds"])
    return "\n\n".join(
        [
            f"The co2 suite{' (quick: ridge only)' if quick else ''} in a fresh project copy, fed over HTTP "
            f"on 127.0.0.1 with weekly CO2 up to {FIRST_YEAR}: a full `dvc repro` ran "
            f"{result['full_stages']} stages in {result['full_seconds']:.1f} s.",
            markdown.table(
                ["run", "median s", "runs"],
                [
                    _row("the check, feed unchanged: `dvc repro -s -f sources`", result["check_seconds"]),
                    _row("`dvc repro` after it (no stage runs)", result["noop_seconds"]),
                    _row("`dvc status` (no stage runs)", result["status_seconds"]),
                    _row("one more year: the check + `dvc repro`", result["changed_seconds"]),
                ],
                "lrl",
            ),
            f"An unchanged live source costs the check, {check:.2f} s (one DVC start and one short process "
            f"asking the feed for its ETag), plus a no-op `dvc repro` of {noop:.2f} s; `dvc status` alone "
            f"takes {status:.2f} s. A new year re-ran {len(result['changed_stages'])} stages: "
            f"{', '.join(result['changed_stages'])}.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    args = cli.parser(__doc__).parse_args(argv)
    started = time.perf_counter()
    with commands.workdir("continuous", keep=args.keep) as work:
        feed = work / "feed"
        co2_feed.feed(feed, "publish", "--until", str(FIRST_YEAR))
        with co2_feed.serve(feed) as url:
            copy = project_copy.make(
                work / "project", suite="co2", edit_suite_params=suite_params(url, args.quick)
            )
            result = measure(copy / "co2", feed, 3 if args.quick else 5)
    results.publish("continuous", args, render(result, args.quick), result, started)


if __name__ == "__main__":
    cli.main_wrapper(main)
