"""scripts/co2-feed: deliveries by year, broken and shifted ones, the table upsert, ETag and 304.

e2e: each call is a process that loads statsmodels' series (seconds on a busy machine), and one a server."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from pipeline.core.errors import PipelineError
from pipeline.workflow import co2_feed

pytestmark = pytest.mark.e2e


def served_table(folder) -> pd.DataFrame:
    return pd.read_csv(folder / co2_feed.TABLE)


def test_time_passes_by_whole_years_into_the_file_and_the_table(tmp_path):
    database = f"sqlite:///{tmp_path / 'feed.db'}"
    co2_feed.feed(tmp_path, "publish", "--until", "1960", "--database", database)
    co2_feed.feed(tmp_path, "advance", "--years", "2")  # the database is remembered
    table = served_table(tmp_path)
    assert list(table.columns) == ["date", "co2"]
    assert table["date"].iloc[-1].startswith("1962-12") and not table["co2"].isna().any()
    engine = sa.create_engine(database)
    with engine.connect() as connection:
        rows, newest = connection.execute(sa.text("SELECT count(*), max(date) FROM co2")).one()
    engine.dispose()
    assert (rows, str(newest)[:7]) == (len(table), "1962-12")


def test_a_broken_delivery_renames_the_column_or_sends_text(tmp_path):
    co2_feed.feed(tmp_path, "publish", "--until", "1960")
    co2_feed.feed(tmp_path, "break", "rename-column")
    assert list(served_table(tmp_path).columns) == ["date", "co2_ppm"]
    co2_feed.feed(tmp_path, "break", "strings")
    text = served_table(tmp_path)
    assert text["co2"].iloc[-1].count(",") == 1 and text["date"].iloc[-1].startswith("1962")


def test_a_shift_moves_every_value(tmp_path):
    co2_feed.feed(tmp_path, "publish", "--until", "1960")
    before = served_table(tmp_path)
    co2_feed.feed(tmp_path, "shift", "--years", "0", "--offset", "15")
    assert (served_table(tmp_path)["co2"] - before["co2"]).round(6).eq(15).all()


def test_nothing_published_is_one_line(tmp_path):
    with pytest.raises(
        PipelineError, match=r"nothing published .*: run `scripts/co2-feed publish --until YEAR`"
    ):
        co2_feed.feed(tmp_path, "advance")


def test_the_server_sends_an_etag_and_answers_304_while_the_file_is_unchanged(tmp_path):
    co2_feed.feed(tmp_path, "publish", "--until", "1960")
    with co2_feed.serve(tmp_path) as url:
        first = requests.get(url, timeout=5)
        assert pd.read_csv(io.StringIO(first.text)).equals(served_table(tmp_path))
        etag = first.headers["ETag"]
        assert "Last-Modified" in first.headers
        assert requests.get(url, headers={"If-None-Match": etag}, timeout=5).status_code == 304
        co2_feed.feed(tmp_path, "advance")
        assert requests.head(url, timeout=5).headers["ETag"] != etag
