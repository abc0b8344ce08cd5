"""`python -m pipeline.tuning run|join|apply`: an Optuna study whose trials are DVC experiments.

    run EXPERIMENT   create (or resume) the study of `tune.EXPERIMENT` in params.yaml, run --workers
                     workers on it here, then write reports/tune/<study>/ and log it to MLflow
    join             one more worker on an existing study (another machine: the same commit, the
                     study's storage URL)
    apply            `dvc exp apply` the study's best trial into the workspace (never done silently)

Storage: --storage, else $PIPELINE_STUDY_STORAGE (`make services` writes the team's PostgreSQL), else
sqlite:///optuna.db in the project. A PostgreSQL password comes from the URL or PGPASSWORD.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pipeline.core import console
from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri
from pipeline.tuning import report, study, workers

log = logging.getLogger("pipeline.tuning")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tuning", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="create or resume a study and run its workers here")
    run.add_argument("experiment", help="a key of `tune:` in params.yaml")
    run.add_argument("--trials", type=int, help="the study's trials in all (default: tune.<e>.n_trials)")
    run.add_argument("--workers", type=int, default=1, help="worker processes here (default 1)")
    run.add_argument("--apply", action="store_true", help="then apply the best trial to the workspace")
    join = commands.add_parser("join", help="one more worker on an existing study")
    apply = commands.add_parser("apply", help="dvc exp apply the study's best trial")
    for command in (run, join, apply):
        command.add_argument("--study", help="the study's name (run: default the experiment's name)")
        command.add_argument("--storage", help="the study's storage URL (default: see above)")
    join.add_argument(
        "--worker", type=int, default=None,
        help="this worker's number: its sampler's seed is the study's + it (default: from the process id)",
    )  # fmt: skip
    for command in (run, join):
        command.add_argument(
            "--heartbeat", type=int, default=study.HEARTBEAT_SECONDS,
            help="seconds between heartbeats; a trial silent for twice that is failed (default %(default)s)",
        )  # fmt: skip
    args = parser.parse_args(argv)
    if args.command != "run" and not args.study:
        parser.error(f"{args.command} needs --study NAME")
    if args.command == "run" and (args.workers < 1 or (args.trials is not None and args.trials < 1)):
        parser.error("--workers and --trials must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    project = Path.cwd()
    url = workers.storage_url(project, args.storage)
    if args.command == "join":
        worker = args.worker if args.worker is not None else os.getpid()  # another machine's own draws
        workers.work(project, args.study, url, args.heartbeat, worker)
        return
    if args.command == "run":
        done = workers.start(
            project, args.experiment, study_name=args.study, url=url, trials=args.trials,
            workers=args.workers, heartbeat=args.heartbeat,
        )  # fmt: skip
        log.info(
            "study %s in %s: report in %s",
            done.study_name,
            mask_uri(url),
            report.folder(project, done.study_name),
        )
        if not args.apply:
            best = workers.best_exp(done)
            if best:
                log.info(
                    "best trial: DVC experiment %s; apply it with `dvc exp apply %s` (or make tune-apply)",
                    best,
                    best,
                )
            return
    name = args.study or args.experiment
    log.info(
        "applied DVC experiment %s to the workspace: `dvc repro` makes it the baseline",
        workers.apply_best(project, name, url),
    )


def cli(argv: list[str] | None = None) -> None:
    console.start_logging()
    try:
        main(argv)
    except PipelineError as err:
        log.error("%s", err)
        sys.exit(2)
    except KeyboardInterrupt:
        log.error("interrupted: running trials are marked failed, the study can be resumed")
        sys.exit(130)


if __name__ == "__main__":
    cli()
