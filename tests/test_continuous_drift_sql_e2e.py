"""Continuous training end to end: drift and a PostgreSQL source (the three retrains and the replay are in
test_continuous_e2e.py; two files, so that the test workers run them side by side)."""

from __future__ import annotations

import json

import pytest

from pipeline.workflow import co2_feed
from pipeline.workflow.environment import child_env
from tests.test_continuous_e2e import (
    at_url,
    co2_copy,
    drift_report,
    env_for,
    ran,
    refresh_and_repro,
    snapshot,
)

pytestmark = pytest.mark.e2e


def test_a_shifted_delivery_is_flagged_as_drift(tmp_path):
    feed = tmp_path / "feed"
    co2_feed.feed(feed, "publish", "--until", "1990")
    with co2_feed.serve(feed) as url:
        suite = co2_copy(tmp_path / "project", at_url(url))
        env = env_for(suite)
        refresh_and_repro(suite, "validate@co2", env)
        assert drift_report(suite)["status"] == "first"

        co2_feed.feed(feed, "advance")
        refresh_and_repro(suite, "validate@co2", env)
        assert drift_report(suite)["status"] == "ok", "a year of ordinary growth is not drift"

        co2_feed.feed(feed, "shift", "--offset", "15")
        refresh_and_repro(suite, "validate@co2", env, check=False)
    report = drift_report(suite)
    assert report["status"] in ("warn", "block")
    scores = [*report["features"].values(), report["label"] or {"drifted": False}]
    assert any(score["drifted"] for score in scores)
    assert report["rows"]["current"] > report["rows"]["previous"]


def test_rows_appended_to_a_postgresql_table_reach_the_training_data(tmp_path, postgres):
    feed = tmp_path / "feed"
    co2_feed.feed(
        feed, "publish", "--until", "1990", "--database", postgres.url, env=child_env(**postgres.env)
    )

    def from_table(dataset: dict) -> None:
        del dataset["url"]
        dataset.update(source="sql", url=postgres.url, query="SELECT date, co2 FROM co2 ORDER BY date")

    suite = co2_copy(tmp_path / "project", from_table)
    env = env_for(suite, **postgres.env)
    refresh_and_repro(suite, "preprocess@co2", env)
    before = snapshot(suite)
    assert before["source"]["url"] == postgres.url
    assert postgres.env["PGPASSWORD"] not in json.dumps(before), "no secret in the snapshot"

    unchanged = refresh_and_repro(suite, "preprocess@co2", env)
    assert set(ran(unchanged)) <= {"sources"}

    co2_feed.feed(feed, "advance", "--years", "2", env=env)
    appended = refresh_and_repro(suite, "preprocess@co2", env)
    assert {"download@co2", "validate@co2", "preprocess@co2"} <= set(ran(appended))
    after = snapshot(suite)
    assert after["rows"] == before["rows"] + 104  # 1991 and 1992: 52 weeks each, none missing
    assert after["time_range"][1].startswith("1992-12")
