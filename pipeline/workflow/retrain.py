"""`make retrain` (`python -m pipeline.workflow.retrain`): pull, refresh, repro, gate, push (local or CI).

1. `dvc pull --run-cache dvc.yaml` from the default remote: the committed outputs and the run-cache.
   Missing data is a warning, not a failure: those stages rebuild.
2. Refresh: `dvc repro --single-item --force sources` asks every live source whether it changed (its
   check token, byte-identical while it did not).
3. `dvc repro --pull` of the targets (default: every stage of dvc.yaml) except `promote`: a changed
   source downloads, validates (validate@<dataset>) and retrains what reads it. A stage whose code,
   data and params already ran somewhere that pushed is restored from the run-cache, not run; the log
   ends with which stages ran, which came from the run-cache and which were unchanged. When nothing but
   the refresh ran: "no new data: nothing retrained", exit 0, nothing promoted or pushed.
4. The gate (pipeline/decisions/gate.py): each experiment's test metrics against the baseline git
   rev (read with `dvc metrics diff <rev> --json`), tolerances from params.yaml's `gate` section. Only
   experiments whose processed data is the baseline's are compared (the two dvc.lock files); on new
   data the baseline's metrics are reference only. A regression prints the table and exits 1 before
   anything is promoted or pushed.
5. `dvc repro promote`: only models that passed the gate can become the MLflow champion, and only by
   beating the champion re-scored on the same new test split.
6. `dvc push --run-cache dvc.yaml`.

The stage outcomes, the data added (rows, time range), the drift summary, the gate table, champion vs
challenger on the same data, `dvc metrics diff --md` and reports/leaderboard.md are written to
`--report FILE` and, under GitHub Actions, appended to the job summary ($GITHUB_STEP_SUMMARY).
Exit status: 0 done (or no new data), 1 the gate refused, 2 an error (one line, no traceback). dvc and
git run as subprocesses: nothing in pipeline/ imports DVC.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from pipeline import config
from pipeline.core import console, paths, storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import stamps
from pipeline.decisions import gate
from pipeline.tracking import store
from pipeline.workflow import retrain_report
from pipeline.workflow.dvc_log import Outcomes, stage_outcomes
from pipeline.workflow.environment import child_env

log = logging.getLogger("pipeline.workflow.retrain")

AFTER_GATE = ("promote",)  # stages that ship a model: they run only once the gate passed
REFRESH = ("fingerprint", "sources")  # what a retrain runs to ask the sources; anything else is new work
LOCK = "dvc.lock"
DEFAULT_BRANCHES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")
PARAMS = config.DEFAULT_PARAMS
PIPELINE = "dvc.yaml"  # the default pipeline (fashion/ and mnist/ have their own, not retrained here)


class GateRefused(Exception):
    """The gate found a regression: nothing is promoted or pushed."""


# --- subprocesses ------------------------------------------------------------------------------


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess:
    """Run a quick command and capture its output."""
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, env=child_env())
    except OSError as err:
        raise PipelineError(f"cannot run {cmd[0]}: {err}; run `make setup` (dvc is in .venv)") from None


def _stream(cmd: Sequence[str], **env: str) -> tuple[int, str]:
    """Run a long command (with `env` added to its environment), echoing its output line by line as it
    comes; return (exit code, output)."""
    log.info("$ %s", " ".join(cmd))
    try:
        process = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env(**env),
            bufsize=1,
        )
    except OSError as err:
        raise PipelineError(f"cannot run {cmd[0]}: {err}; run `make setup` (dvc is in .venv)") from None
    captured = []
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        captured.append(line)
    return process.wait(), "".join(captured)


def _last_error(output: str) -> str:
    errors = [line.strip() for line in output.splitlines() if line.startswith("ERROR")]
    lines = errors or [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _git(*args: str) -> str | None:
    result = _run(["git", *args])
    return result.stdout.strip() if result.returncode == 0 else None


# --- steps -------------------------------------------------------------------------------------


def default_remote() -> str | None:
    result = _run(["dvc", "remote", "default"])
    name = result.stdout.strip()
    return name if result.returncode == 0 and name else None


def resolve_baseline(rev: str | None) -> tuple[str, str | None]:
    """(what to call it, commit) of the baseline: `rev`, else the merge-base of HEAD with the default
    branch (or its tip when history is too shallow for a merge-base), else HEAD. Commit None: no commits."""
    if rev is not None:
        commit = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        if commit is None:
            raise PipelineError(
                f"baseline {rev!r} is not a git revision here (fetch it, or pass another --baseline)"
            )
        return rev, commit
    for branch in DEFAULT_BRANCHES:
        tip = _git("rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}")
        if tip is None:
            continue
        base = _git("merge-base", "HEAD", tip)
        return (f"merge-base with {branch}", base) if base else (branch, tip)
    return "HEAD", _git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")


def pull(remote: str) -> None:
    code, output = _stream(["dvc", "pull", "--run-cache", PIPELINE])
    if code != 0:
        log.warning(
            "dvc pull from remote %r did not restore everything (%s); stages without data rebuild",
            remote,
            _last_error(output),
        )


def pipeline_stages() -> list[str]:
    result = _run(["dvc", "stage", "list", "--name-only", PIPELINE])
    if result.returncode != 0:
        raise PipelineError(f"dvc stage list failed: {_last_error(result.stdout + result.stderr)}")
    return result.stdout.split()


def repro(targets: Sequence[str], *options: str, **env: str) -> Outcomes:
    code, output = _stream(["dvc", "repro", "--pull", *options, *targets], **env)
    outcomes = stage_outcomes(output)
    if code != 0:
        done = "; ".join(outcomes.lines())
        raise PipelineError(f"dvc repro failed: {_last_error(output)} (before it failed: {done})")
    return outcomes


def refresh(stages: Sequence[str]) -> Outcomes:
    """Ask every live source for news: the params check, then `sources` forced alone, with a refresh
    asked for (an unchanged source leaves its token as it was: nothing downstream runs)."""
    if "sources" not in stages:
        return Outcomes()
    outcomes = repro(["fingerprint"])  # sources reads its fingerprint: a fresh checkout has none yet
    outcomes.extend(repro(["sources"], "--single-item", "--force", **{stamps.REFRESH_ENV: "1"}))
    return outcomes


def nothing_new(outcomes: Outcomes) -> bool:
    """Only the refresh ran: no source changed and neither did code or params."""
    return not [stage for stage in (*outcomes.ran, *outcomes.cached) if stage not in REFRESH]


def read_lock(commit: str | None) -> dict:
    """The parsed dvc.lock of `commit` (git), or of the workspace when `commit` is None."""
    if commit is None:
        text = Path(LOCK).read_text() if Path(LOCK).is_file() else ""
    else:
        text = _git("show", f"{commit}:{LOCK}") or ""
    return yaml.safe_load(text) or {}


def baseline_snapshots(commit: str | None, datasets: Sequence[str]) -> dict[str, dict | None]:
    """{data set: the baseline's data/raw/<data set>/snapshot.json} read with `dvc get` (None: none)."""
    found: dict[str, dict | None] = dict.fromkeys(datasets)
    if commit is None:
        return found
    paths.REPORTS_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".baseline-", dir=paths.REPORTS_DIR) as tmp:
        for dataset in datasets:
            target = Path(tmp) / f"{dataset}.json"
            path = paths.snapshot_file(dataset).as_posix()
            result = _run(["dvc", "get", ".", path, "--rev", commit, "-o", str(target), "--force"])
            if result.returncode == 0 and target.is_file():
                found[dataset] = storage.read_json(target)
            else:
                log.info("no snapshot of %s at the baseline: %s", dataset, _last_error(result.stderr))
    return found


def split_targets(targets: Sequence[str]) -> tuple[list[str], list[str]]:
    """(what to reproduce before the gate, the stages reproduced only after it).

    No targets: every stage of dvc.yaml. A stage of AFTER_GATE (promote) reads every result, so asking
    for it reproduces the whole pipeline before the gate and then it alone (`--single-item`).
    """
    before = [target for target in targets if target not in AFTER_GATE]
    after = [stage for stage in AFTER_GATE if stage in targets]
    if not targets or after:
        stages = pipeline_stages()
        after = after or [stage for stage in AFTER_GATE if stage in stages]
        before += [stage for stage in stages if stage not in AFTER_GATE and stage not in before]
    return before, after


def read_test_metrics(baseline_commit: str | None, experiments: Sequence[str]) -> tuple[dict, dict]:
    """({experiment: baseline test metrics}, {experiment: current test metrics}) via `dvc metrics diff`."""
    if not experiments:
        return {}, {}
    rev = baseline_commit or "HEAD"
    files = {str(paths.metrics_file(name)): name for name in experiments}
    result = _run(["dvc", "metrics", "diff", rev, "--all", "--json", "--targets", *files])
    try:
        diff = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        diff = None
    if result.returncode != 0 or not isinstance(diff, dict):
        raise PipelineError(f"dvc metrics diff {rev} failed: {_last_error(result.stdout + result.stderr)}")
    baseline: dict[str, dict] = {}
    current: dict[str, dict] = {}
    for path, metrics in diff.items():
        name = files.get(path)
        if name is None:
            continue
        for key, values in metrics.items():
            section, _, metric = key.partition(".")
            if section != "test":
                continue
            if values.get("old") is not None:
                baseline.setdefault(name, {})[metric] = values["old"]
            if values.get("new") is not None:
                current.setdefault(name, {})[metric] = values["new"]
    _require_baseline(baseline_commit, files, baseline)
    return baseline, current


def _require_baseline(commit: str | None, files: dict[str, str], baseline: dict) -> None:
    """Fail when the baseline's dvc.lock has an experiment's metrics but DVC could not read them:
    treating it as new would wave any regression through."""
    lock_text = _git("show", f"{commit}:dvc.lock") if commit else None
    if not lock_text:
        return
    locked = {
        out.get("path")
        for stage in (yaml.safe_load(lock_text) or {}).get("stages", {}).values()
        for out in stage.get("outs", [])
    }
    unreadable = sorted(name for path, name in files.items() if path in locked and name not in baseline)
    if unreadable:
        raise PipelineError(
            f"the baseline {commit[:12]} has test metrics for {', '.join(unreadable)}, but they are "
            "neither in the DVC cache nor on the remote: push them from a checkout of that commit "
            "(`dvc push`), or pass another --baseline"
        )


def metrics_diff_markdown(baseline_commit: str | None, experiments: Sequence[str]) -> str:
    if not experiments:
        return ""
    rev = baseline_commit or "HEAD"
    targets = [str(paths.metrics_file(name)) for name in experiments]
    result = _run(["dvc", "metrics", "diff", rev, "--md", "--targets", *targets])
    return result.stdout.strip() if result.returncode == 0 else ""


def push(remote: str) -> None:
    code, output = _stream(["dvc", "push", "--run-cache", PIPELINE])
    if code != 0:
        raise PipelineError(
            f"dvc push to remote {remote!r} failed: {_last_error(output)} (check the remote's credentials)"
        )


# --- the report --------------------------------------------------------------------------------


def report_markdown(
    baseline: tuple[str, str | None],
    outcomes: Outcomes,
    result: gate.Result | None,
    metrics_diff: str,
    data: str = "",
) -> str:
    """The retrain report; `result` None: no new data, nothing retrained. `data`: the Data and Drift
    sections (retrain_report)."""
    label, commit = baseline
    shown = f"`{label}` ({commit[:12]})" if commit else f"`{label}` (no commit)"
    parts = ["## Retrain", "", f"Baseline: {shown}", "", *[f"- {line}" for line in outcomes.lines()], ""]
    if result is None:
        return "\n".join([*parts, f"**{retrain_report.NO_NEW_DATA}**", ""])
    verdict = "passed" if result.passed else "FAILED: nothing was promoted or pushed"
    parts += [
        *([data] if data else []),
        f"### Gate: {verdict}",
        "",
        gate.render(result),
    ]
    promote_done = any("promote" in stages for stages in (outcomes.ran, outcomes.cached, outcomes.unchanged))
    if promote_done and (champions := retrain_report.champion_section(retrain_report.read(paths.PROMOTION))):
        parts.append(champions)  # not a previous run's record when the gate stopped promote
    parts += [f"### `dvc metrics diff` against {shown}", "", metrics_diff or "No metric changed.", ""]
    if paths.LEADERBOARD.exists():
        parts += [paths.LEADERBOARD.read_text().replace("# Leaderboard", "### Leaderboard", 1).strip(), ""]
    return "\n".join(parts)


def data_markdown(baseline_commit: str | None, datasets: Sequence[str]) -> str:
    """The Data (snapshots now vs the baseline's) and Drift sections of the report."""
    now = {ds: snap for ds in datasets if (snap := retrain_report.read(paths.snapshot_file(ds)))}
    drift = {ds: rep for ds in datasets if (rep := retrain_report.read(paths.drift_report(ds)))}
    before = baseline_snapshots(baseline_commit, list(now))
    return retrain_report.data_section(now, before) + retrain_report.drift_section(drift)


def write_report(text: str, report: Path | None) -> None:
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text)
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a") as handle:
            handle.write(text + "\n")


# --- entry point -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.workflow.retrain", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "targets",
        nargs="*",
        help="dvc stage targets (e.g. evaluate@iris-dnn report); default: all of dvc.yaml",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="git rev whose committed metrics are the baseline (default: merge-base of HEAD with the "
        "default branch, origin/HEAD, main or master)",
    )
    parser.add_argument(
        "--require-mlflow",
        action="store_true",
        help="CI: MLFLOW_TRACKING_URI must be set and stages run with mlflow.required: true",
    )
    parser.add_argument("--no-push", action="store_true", help="reproduce and gate, but push nothing")
    parser.add_argument("--report", type=Path, metavar="FILE", help="also write the markdown report here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    params = config.load(PARAMS)
    remote = default_remote()
    if remote is None and not args.no_push:
        raise PipelineError(
            "no default DVC remote: add one with `dvc remote add -d storage <url>` and commit .dvc/config "
            "(see docs/ci-retraining.md), or pass --no-push"
        )
    if args.require_mlflow and not os.environ.get("MLFLOW_TRACKING_URI"):
        raise PipelineError(
            "--require-mlflow: MLFLOW_TRACKING_URI is not set (in CI: create the repository secret "
            "MLFLOW_TRACKING_URI)"
        )
    if args.require_mlflow:  # before DVC deletes the outputs of a stage that would then fail
        os.environ[config.MLFLOW_REQUIRED_ENV] = "true"
        store.check_reachable(params.mlflow.timeout_seconds)
    baseline = resolve_baseline(args.baseline)
    log.info("baseline: %s (%s)", baseline[0], baseline[1] or "no commit yet: every experiment is new")
    if remote is None:
        log.warning("no default DVC remote: nothing to pull from or push to (--no-push)")
    else:
        pull(remote)
    before, after = split_targets(args.targets)
    outcomes = refresh(before)
    outcomes.extend(repro(before))  # stages inherit PIPELINE_MLFLOW_REQUIRED: one that loses MLflow fails
    for line in outcomes.lines():
        log.info("%s", line)
    if nothing_new(outcomes):
        log.info("%s; nothing promoted or pushed", retrain_report.NO_NEW_DATA)
        write_report(report_markdown(baseline, outcomes, None, ""), args.report)
        return
    experiments = list(params.experiments)
    new_data = gate.data_changed(read_lock(baseline[1]), read_lock(None)) if baseline[1] else set()
    result = gate.compare(*read_test_metrics(baseline[1], experiments), params.gate, new_data)
    metrics_diff = metrics_diff_markdown(baseline[1], experiments)
    data = data_markdown(baseline[1], list(params.datasets))
    log.info("gate: test metrics against %s\n%s", baseline[0], gate.render(result))
    try:
        if not result.passed:
            raise GateRefused(result.summary())
        if after:
            outcomes.extend(repro(after, "--single-item"))
    finally:
        write_report(report_markdown(baseline, outcomes, result, metrics_diff, data), args.report)
    if remote is not None and not args.no_push:
        push(remote)
        log.info("pushed outputs and run-cache to remote %r", remote)
    log.info("done: %s", "; ".join(outcomes.lines()))


def cli(argv: list[str] | None = None) -> None:
    console.start_logging()
    try:
        main(argv)
    except GateRefused as err:
        log.error("%s; nothing was promoted or pushed", err)
        sys.exit(1)
    except PipelineError as err:
        log.error("%s", err)
        sys.exit(2)
    except KeyboardInterrupt:
        log.error("interrupted; nothing was pushed")
        sys.exit(130)


if __name__ == "__main__":
    cli()
