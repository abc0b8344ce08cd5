"""Benchmark 7: `dvc push` / `dvc pull` of the default pipeline's outputs, the team stack's S3 remote
against a local directory remote (MB/s).

In a project copy, one `dvc repro` of the default pipeline fills the DVC cache; then, alternating
between the remotes, each round pushes the whole cache to an empty place on the remote (a new prefix
of the stack's `dvc` bucket, a new folder) and pulls it back into an emptied cache. The stack is
`scripts/services` (SeaweedFS `weed mini` on 127.0.0.1, the developer's keys in .dvc/config.local),
brought up in a temporary state folder. Medians per remote; MB/s is the cache's size over the time.

`--quick`: digits only (logistic regression, SVC, the DNN for 2 epochs) and one round per remote.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cli, commands, incremental, results
from pipeline.core import markdown
from pipeline.workflow import project_copy
from pipeline.workflow import team_stack as stack

log = logging.getLogger("bench.remote")

FULL_ROUNDS, QUICK_ROUNDS = 3, 1
REMOTES = ("team stack (S3)", "local directory")


def cache_size(project: Path) -> tuple[int, int]:
    """(bytes, files) in the project's DVC cache."""
    files = [p for p in (project / ".dvc" / "cache" / "files").rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def point_remote(project: Path, env: dict[str, str], remote: str, url: str) -> None:
    commands.run(["dvc", "remote", "modify", "--local", remote, "url", url], project, env=env)


def round_trip(project: Path, env: dict[str, str], remote: str) -> dict[str, float]:
    """Seconds to push the cache to the (empty) remote, then to pull it into an emptied cache."""
    pushed = commands.run(["dvc", "push", "-r", remote], project, env=env)
    shutil.rmtree(project / ".dvc" / "cache")
    pulled = commands.run(["dvc", "pull", "-r", remote, "--force"], project, env=env)
    return {"push": pushed.seconds, "pull": pulled.seconds}


def measure(work: Path, rounds: int, quick: bool) -> dict[str, Any]:
    # the stack first: one that cannot start stops the benchmark at once
    with stack.running(Path(tempfile.gettempdir())) as services:
        copy = project_copy.make(work / "project", edit_params=incremental.shrink if quick else None)
        env = commands.project_env(copy)
        repro = commands.run(["dvc", "repro"], copy, env=env)
        log.info("dvc repro took %.0f s", repro.seconds)
        size, files = cache_size(copy)
        services.script("remote", str(services.env_file), cwd=copy)  # remote `stack`, keys in config.local
        commands.run(["dvc", "remote", "add", "--local", "-f", "folder", str(work / "remote")], copy, env=env)
        timed: dict[str, list[dict[str, float]]] = {name: [] for name in REMOTES}
        for index in range(rounds):
            point_remote(copy, env, "stack", f"s3://dvc/bench-{index}")
            point_remote(copy, env, "folder", str(work / "remote" / str(index)))
            order = REMOTES if index % 2 == 0 else tuple(reversed(REMOTES))
            for name in order:
                log.info("round %d/%d: %s", index + 1, rounds, name)
                timed[name].append(round_trip(copy, env, "stack" if name == REMOTES[0] else "folder"))
        ready = services.ready_seconds
    medians = {
        name: {way: commands.median(r[way] for r in timed[name]) for way in ("push", "pull")}
        for name in REMOTES
    }
    return {"bytes": size, "files": files, "rounds": rounds, "stack_ready_seconds": ready,
            "by_remote": timed, "medians": medians}  # fmt: skip


def render(result: dict[str, Any], quick: bool) -> str:
    megabytes = result["bytes"] / 1e6
    rows = [
        [
            name,
            *(
                f"{results.fmt(seconds[way], 1)} s ({results.fmt(megabytes / seconds[way], 1)} MB/s, "
                f"{results.fmt(result['files'] / seconds[way], 0)} files/s)"
                for way in ("push", "pull")
            ),
        ]
        for name, seconds in ((name, result["medians"][name]) for name in REMOTES)
    ]
    what = "digits, 3 experiments" if quick else "every default experiment"
    return "\n\n".join(
        [
            f"The DVC cache after `dvc repro` of the default pipeline ({what}): {megabytes:,.1f} MB in "
            f"{result['files']:,} files, pushed to an empty remote and pulled into an empty cache; median "
            f"of {result['rounds']} round(s) per remote. The stack (`scripts/services up`) was ready in "
            f"{result['stack_ready_seconds']} s. Each command pays DVC's start-up and one request per file: "
            "on a small cache those, not the bandwidth, set the rate.",
            markdown.table(["remote", "`dvc push`", "`dvc pull`"], rows, "lrr"),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    args = cli.parser(__doc__).parse_args(argv)
    started = time.perf_counter()
    with commands.workdir("remote", keep=args.keep) as work:
        result = measure(work, QUICK_ROUNDS if args.quick else FULL_ROUNDS, args.quick)
    results.publish("remote", args, render(result, args.quick), result, started)


if __name__ == "__main__":
    cli.main_wrapper(main)
