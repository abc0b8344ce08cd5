"""Continuous training end to end on a copy of the co2 suite, against a real feed and a real PostgreSQL.

The feed is scripts/co2-feed (HTTP with ETag / Last-Modified on 127.0.0.1, or a table in PostgreSQL);
each test plays "time passes" by publishing more years and runs `dvc repro` or `make retrain`'s driver.
Only the ridge experiment is kept: what is under test is the data path, not the models.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.datasets import stamps
from pipeline.workflow import co2_feed, dvc_log, project_copy
from pipeline.workflow.environment import child_env
from tests.conftest import run, shrink_params

pytestmark = pytest.mark.e2e

SUITE = "co2"
EXPERIMENT = "co2-ridge"
METRICS = Path("results") / EXPERIMENT / "metrics.json"


def co2_copy(destination: Path, edit_dataset: Callable[[dict], None]) -> Path:
    """A project copy with the co2 suite shrunk to its ridge experiment; its co2 folder."""

    def edit(params: dict) -> None:
        shrink_params(params, {EXPERIMENT: params["experiments"][EXPERIMENT]})
        edit_dataset(params["datasets"]["co2"])

    copy = project_copy.make(destination, suite=SUITE, edit_suite_params=edit)
    return copy / SUITE


def at_url(url: str) -> Callable[[dict], None]:
    return lambda dataset: dataset.update(url=url)


def env_for(suite: Path, **extra: str) -> dict[str, str]:
    return child_env(isolated=True, project=suite.parent, **extra)


def retrain(suite: Path, *args: str, check: bool = True):
    return run(["python", "-m", "pipeline.workflow.retrain", *args], suite, check=check, env=env_for(suite))


def refresh_and_repro(suite: Path, target: str, env: dict[str, str], check: bool = True):
    """Ask the live sources as `make refresh` does (sources forced, PIPELINE_REFRESH=1), then repro target."""
    run(["dvc", "repro", "fingerprint"], suite, env=env)
    run(["dvc", "repro", "--single-item", "--force", "sources"], suite, env={**env, stamps.REFRESH_ENV: "1"})
    return run(["dvc", "repro", target], suite, env=env, check=check)


def ran(result) -> list[str]:
    return dvc_log.executed_stages(result.stdout + result.stderr)


def commit(suite: Path, message: str) -> str:
    run(["git", "add", "-A"], suite)
    run(["git", "commit", "-q", "-m", message], suite)
    return run(["git", "rev-parse", "HEAD"], suite).stdout.strip()


def promotion(suite: Path) -> dict:
    return json.loads((suite / "reports" / "promotion.json").read_text())["co2"]


def drift_report(suite: Path) -> dict:
    return json.loads((suite / "reports" / "drift" / "co2.json").read_text())


def snapshot(suite: Path) -> dict:
    return json.loads((suite / "data" / "raw" / "co2" / "snapshot.json").read_text())


def test_new_data_retrains_none_runs_nothing_a_broken_delivery_stops_and_an_old_retrain_replays(tmp_path):
    feed = tmp_path / "feed"
    co2_feed.feed(feed, "publish", "--until", "1990")
    with co2_feed.serve(feed) as url:
        suite = co2_copy(tmp_path / "project", at_url(url))
        run(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], suite)

        first = retrain(suite)
        assert f"train@{EXPERIMENT}" in ran(first)
        assert promotion(suite)["promoted"], "the first model becomes the champion"
        assert (suite / "schemas" / "co2.yaml").is_file(), "validate@co2 infers the schema once"
        first_metrics = (suite / METRICS).read_text()
        first_commit = commit(suite, "retrain: data up to 1990")

        co2_feed.feed(feed, "advance", "--years", "2")
        second = retrain(suite)
        assert {"download@co2", "validate@co2", "preprocess@co2", f"train@{EXPERIMENT}"} <= set(ran(second))
        assert snapshot(suite)["time_range"][1].startswith("1992-12")
        record = promotion(suite)
        assert {"champion_on_new_data", "champion_stored", "challenger"} <= set(record)
        assert record["champion_on_new_data"] is not None, "the champion is re-scored on the new test split"
        assert record["promoted"] == (record["challenger"]["value"] < record["champion_on_new_data"])
        commit(suite, "retrain: data up to 1992")

        unchanged = retrain(suite)
        assert set(ran(unchanged)) <= {"sources"}, "the same feed re-runs only the cheap check"
        assert "no new data" in (unchanged.stdout + unchanged.stderr).lower()

        champion = promotion(suite)
        co2_feed.feed(feed, "break", "strings")
        broken = retrain(suite, check=False)
        assert broken.returncode != 0
        assert f"train@{EXPERIMENT}" not in ran(broken)
        assert "column 'co2'" in broken.stdout + broken.stderr, "the message names the column"
        assert promotion(suite) == champion, "the champion stays"

    # the feed is gone: the first retrain comes back from git and the DVC remote alone
    run(["git", "checkout", "-q", "--force", first_commit], suite)
    run(["dvc", "pull"], suite, env=env_for(suite))
    replay = run(["dvc", "repro"], suite, env=env_for(suite))
    assert set(ran(replay)) <= {"sources"}, "the pulled snapshot is what the first retrain used"
    run(
        [
            "dvc",
            "repro",
            "--force",
            "--single-item",
            "preprocess@co2",
            f"train@{EXPERIMENT}",
            f"evaluate@{EXPERIMENT}",
        ],
        suite,
        env=env_for(suite),
    )
    assert (suite / METRICS).read_text() == first_metrics
