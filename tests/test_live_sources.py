"""Live table sources (http, sql, folder): check tokens, snapshots, the offline fallback, config errors."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import snapshot, sources, stamps
from pipeline.datasets.sources import SourceUnreachable
from pipeline.workflow.dvc_log import executed_stages
from tests.conftest import make_project, run, shrink_params, subprocess_env

ROWS = "day,x,label\n2024-01-01,1.0,a\n2024-01-02,2.0,b\n2024-01-03,3.0,a\n"
MORE = "2024-01-04,4.0,b\n"
TABLE = {"target": "label", "time": "day"}


def http_cfg(url: str) -> config.HttpSource:
    return config.HttpSource(source="http", url=url, **TABLE)


def check(name: str, cfg) -> dict:
    return sources.kind(cfg).check(name, cfg, 5.0)


@pytest.fixture
def served_csv(http_server):
    base, served, server = http_server
    (served / "data.csv").write_text(ROWS)
    return http_cfg(f"{base}/data.csv"), served / "data.csv", server


def test_http_etag_is_the_token_and_needs_no_download(served_csv):
    cfg, path, server = served_csv
    server.etags = True
    first = check("live", cfg)
    assert set(first) == {"etag"} and check("live", cfg) == first
    assert server.hits == []  # HEAD only: the file itself was not fetched
    path.write_text(ROWS + MORE)
    assert check("live", cfg) != first


def test_http_last_modified_when_there_is_no_etag(served_csv):
    cfg, path, _ = served_csv
    os.utime(path, (1_700_000_000, 1_700_000_000))
    first = check("live", cfg)
    assert set(first) == {"last_modified"} and check("live", cfg) == first
    path.write_text(ROWS + MORE)
    os.utime(path, (1_700_000_100, 1_700_000_100))
    assert check("live", cfg) != first


def test_http_content_hash_when_the_server_gives_neither(served_csv):
    cfg, path, server = served_csv
    server.omit_headers = {"last-modified"}
    first = check("live", cfg)
    assert first == {"sha256": storage.sha256_file(path)}
    path.write_text(ROWS + MORE)
    assert check("live", cfg) == {"sha256": storage.sha256_file(path)} != first


def test_http_fetch_writes_a_snapshot_that_agrees_with_the_check(served_csv, tmp_path):
    cfg, path, server = served_csv
    server.etags = True
    out = tmp_path / "raw" / "live"
    sources.fetch_raw("live", cfg, out)
    record = storage.read_json(out / "snapshot.json")
    assert record["check"] == check("live", cfg)
    assert record["dataset"] == "live" and record["source"] == {"kind": "http", "url": cfg.url}
    assert record["rows"] == 3 and record["columns"] == ["day", "x", "label"]
    assert record["time_range"] == ["2024-01-01T00:00:00", "2024-01-03T00:00:00"]
    assert record["sha256"] == storage.sha256_file(out / "data.csv") == storage.sha256_file(path)
    assert record["fetched_at"].endswith("+00:00")
    raw = sources.read_raw("live", cfg, out)
    assert raw.class_names == ("a", "b") and len(raw.times) == 3


def test_snapshot_masks_a_token_in_the_url(served_csv, tmp_path):
    cfg = http_cfg(served_csv[0].url + "?token=s3cret")
    sources.fetch_raw("live", cfg, tmp_path / "raw")
    text = (tmp_path / "raw" / "snapshot.json").read_text()
    assert "s3cret" not in text and "token=***" in text


def test_http_parquet_by_suffix(http_server, tmp_path):
    import pandas as pd

    base, served, _ = http_server
    pd.DataFrame({"day": [1, 2, 3, 4], "x": [0.1, 0.2, 0.3, 0.4], "label": list("abab")}).to_parquet(
        served / "t.parquet"
    )
    cfg = http_cfg(f"{base}/t.parquet")
    sources.fetch_raw("p", cfg, tmp_path / "p")
    assert (tmp_path / "p" / "data.parquet").exists()
    assert storage.read_json(tmp_path / "p" / "snapshot.json")["time_range"] == [1, 4]


def test_http_that_does_not_answer_is_unreachable():
    with pytest.raises(SourceUnreachable, match="dataset 'live'.*127.0.0.1:9"):
        check("live", http_cfg("http://127.0.0.1:9/data.csv"))


def sqlite_db(path: Path, rows: list[tuple]) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS m (day TEXT, x REAL, label TEXT)")
        db.executemany("INSERT INTO m VALUES (?, ?, ?)", rows)
    return f"sqlite:///{path}"


SQL_ROWS = [("2024-01-01", 1.0, "a"), ("2024-01-02", 2.0, "b"), ("2024-01-03", 3.0, "a")]


@pytest.mark.parametrize(
    ("fields", "keys"),
    [
        (TABLE, {"rows", "latest"}),
        ({"target": "label"}, {"rows", "sha256"}),
        ({**TABLE, "check_query": "SELECT COUNT(*) FROM m"}, {"check"}),
    ],
    ids=["count-and-latest-time", "hash-of-result", "check-query"],
)
def test_sql_token_changes_when_rows_are_appended(tmp_path, fields, keys):
    url = sqlite_db(tmp_path / "db.sqlite", SQL_ROWS)
    cfg = config.SqlSource(source="sql", url=url, query="SELECT * FROM m;", **fields)
    first = check("db", cfg)
    assert set(first) == keys and check("db", cfg) == first
    sqlite_db(tmp_path / "db.sqlite", [("2024-01-04", 4.0, "b")])
    assert check("db", cfg) != first


def test_sql_fetch_reads_the_query_and_records_its_token(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVE_DB_URL", sqlite_db(tmp_path / "db.sqlite", SQL_ROWS))
    cfg = config.SqlSource(source="sql", url_env="LIVE_DB_URL", query="SELECT * FROM m WHERE x > 1", **TABLE)
    sources.fetch_raw("db", cfg, tmp_path / "raw")
    record = storage.read_json(tmp_path / "raw" / "snapshot.json")
    assert record["rows"] == 2 and record["check"] == {"rows": 2, "latest": "2024-01-03"}
    assert record["time_range"] == ["2024-01-02T00:00:00", "2024-01-03T00:00:00"]
    assert record["source"]["query"] == cfg.query


def test_sql_errors_name_the_data_set_and_mask_the_password(monkeypatch):
    monkeypatch.setenv("LIVE_DB_URL", "postgresql://trainer:s3cret@127.0.0.1:9/live")
    cfg = config.SqlSource(source="sql", url_env="LIVE_DB_URL", query="SELECT 1", target="y")
    with pytest.raises(SourceUnreachable) as caught:
        check("db", cfg)
    assert "dataset 'db'" in str(caught.value) and "trainer:***@127.0.0.1" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_sql_missing_environment_variable_and_missing_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVE_DB_URL", raising=False)
    cfg = config.SqlSource(source="sql", url_env="LIVE_DB_URL", query="SELECT 1", target="y")
    with pytest.raises(PipelineError, match="url_env: environment variable LIVE_DB_URL is not set"):
        check("db", cfg)
    cfg = config.SqlSource(source="sql", url=f"sqlite:///{tmp_path}/none.db", query="SELECT 1", target="y")
    with pytest.raises(SourceUnreachable, match="does not exist"):
        check("db", cfg)
    assert not (tmp_path / "none.db").exists()


def test_folder_token_changes_when_a_partition_arrives(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "2024-01.csv").write_text(ROWS)
    (folder / "notes.txt").write_text("not a partition")
    cfg = config.FolderSource(source="folder", path=str(folder), **TABLE)
    first = check("f", cfg)
    assert [name for name, _, _ in first["files"]] == ["2024-01.csv"] and check("f", cfg) == first
    (folder / "2024-02.csv").write_text("day,x,label\n" + MORE)
    assert [name for name, _, _ in check("f", cfg)["files"]] == ["2024-01.csv", "2024-02.csv"]
    sources.fetch_raw("f", cfg, tmp_path / "raw")
    record = storage.read_json(tmp_path / "raw" / "snapshot.json")
    assert record["rows"] == 4 and record["check"] == check("f", cfg)
    assert (tmp_path / "raw" / "data.csv").read_text().splitlines()[-1] == MORE.strip()


def test_folder_partitions_must_share_columns(tmp_path):
    (tmp_path / "a.csv").write_text(ROWS)
    (tmp_path / "b.csv").write_text("day,y,label\n" + MORE)
    cfg = config.FolderSource(source="folder", path=str(tmp_path), **TABLE)
    with pytest.raises(PipelineError, match="b.csv has columns day, y, label.*same columns"):
        sources.fetch_raw("f", cfg, tmp_path / "raw")


def test_an_unreadable_partition_is_named(tmp_path):
    (tmp_path / "a.parquet").write_bytes(b"not parquet")
    cfg = config.FolderSource(source="folder", path=str(tmp_path), pattern="*.parquet", **TABLE)
    with pytest.raises(PipelineError, match="a.parquet is not a readable parquet table"):
        sources.fetch_raw("f", cfg, tmp_path / "raw")


@pytest.fixture
def folder_project(tmp_path, monkeypatch):
    """A working directory with a folder source and its first snapshot in data/raw/f."""
    monkeypatch.chdir(tmp_path)
    Path("incoming").mkdir()
    Path("incoming/1.csv").write_text(ROWS)
    cfg = config.FolderSource(source="folder", path="incoming", **TABLE)
    sources.fetch_raw("f", cfg, Path("data/raw/f"))
    return cfg


def test_sources_stage_keeps_the_snapshot_token_until_a_refresh_is_asked_for(folder_project, monkeypatch):
    stamps.write(Path("sources"), {"f": folder_project})
    written = Path("sources/f").read_text()
    assert json.loads(written) == {"source": "folder", "check": snapshot.read(Path("data/raw/f"))["check"]}
    Path("incoming/2.csv").write_text("day,x,label\n" + MORE)
    stamps.write(Path("sources"), {"f": folder_project})
    assert Path("sources/f").read_text() == written  # dvc repro reproduces the snapshot
    monkeypatch.setenv(stamps.REFRESH_ENV, "1")
    stamps.write(Path("sources"), {"f": folder_project})
    assert Path("sources/f").read_text() != written  # make refresh sees the new partition


def test_a_refresh_of_an_unchanged_source_is_byte_identical(folder_project, monkeypatch):
    stamps.write(Path("sources"), {"f": folder_project})
    written = Path("sources/f").read_text()
    monkeypatch.setenv(stamps.REFRESH_ENV, "1")
    stamps.write(Path("sources"), {"f": folder_project})
    assert Path("sources/f").read_text() == written


def test_a_snapshot_of_another_source_is_not_reused(folder_project, monkeypatch):
    Path("other").mkdir()
    Path("other/1.csv").write_text("day,x,label\n" + MORE)
    moved = folder_project.model_copy(update={"path": "other"})
    stamps.write(Path("sources"), {"f": moved})
    listed = json.loads(Path("sources/f").read_text())["check"]["files"]
    assert listed[0][1] == Path("other/1.csv").stat().st_size


def test_an_unreachable_source_keeps_the_snapshot_token(folder_project, monkeypatch, caplog):
    stamps.write(Path("sources"), {"f": folder_project})
    kept = Path("sources/f").read_text()
    shutil.rmtree("incoming")
    monkeypatch.setenv(stamps.REFRESH_ENV, "1")
    with caplog.at_level(logging.WARNING):
        stamps.write(Path("sources"), {"f": folder_project})
    assert Path("sources/f").read_text() == kept and "keeping the snapshot" in caplog.text


def test_no_snapshot_and_no_source_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.FolderSource(source="folder", path="incoming", **TABLE)
    with pytest.raises(PipelineError, match=r"folder incoming does not exist.*no snapshot of it.*dvc pull"):
        stamps.write(Path("sources"), {"f": cfg})


def test_several_live_sources_are_checked_concurrently(tmp_path, monkeypatch):
    slow = 0.5

    def slow_check(name, cfg, timeout):
        time.sleep(slow)
        return {"name": name}

    monkeypatch.setattr(
        sources.kind(config.FolderSource(source="folder", path=".", target="y")), "check", slow_check
    )
    datasets = {f"f{i}": config.FolderSource(source="folder", path=".", target="y") for i in range(4)}
    started = time.perf_counter()
    stamps.write(tmp_path / "sources", datasets)
    assert time.perf_counter() - started < 2 * slow
    assert json.loads((tmp_path / "sources" / "f3").read_text())["check"] == {"name": "f3"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": "sql", "url": "postgresql://u:pw@db/live", "query": "SELECT 1"}, "url_env"),
        (
            {"source": "sql", "url": "sqlite:///a.db", "url_env": "X", "query": "SELECT 1"},
            "exactly one of url",
        ),
        ({"source": "sql", "query": "SELECT 1"}, "exactly one of url"),
        ({"source": "http", "url": "ftp://host/data.csv"}, "must be an http"),
        ({"source": "http", "url": "http://host/data.csv", "sha256": "0" * 64}, "sha256"),
        ({"source": "folder", "path": "in", "split": {"test_window": "365D"}}, "test_window needs a `time`"),
        ({"source": "folder", "path": "in", "time": "t", "split": {"test_window": "a year"}}, "test_window"),
        ({"source": "folder", "path": "in", "colour": "red"}, "colour"),
    ],
    ids=[
        "password-in-url",
        "url-and-url_env",
        "no-url",
        "not-http",
        "no-pin-for-http",
        "window-without-time",
        "bad-window",
        "unknown-key",
    ],
)
def test_config_errors_are_clear(fields, message):
    raw = {"datasets": {"live": {"target": "y", **fields}}}
    with pytest.raises(PipelineError, match=message):
        config.validate(raw, "params.yaml")


def test_refresh_section_defaults():
    assert config.Params(datasets={}).refresh == config.Refresh(timeout_seconds=10.0)


def partition(month: int, rows: int = 40) -> str:
    """A month of daily rows whose label follows `x`: enough for a logistic regression to learn."""
    rng = np.random.default_rng(month)
    x = rng.normal(size=rows)
    lines = [
        f"2024-{month:02d}-{d % 28 + 1:02d}T{d // 28:02d}:00,{v:.4f},{'ab'[int(v > 0)]}"
        for d, v in enumerate(x)
    ]
    return "day,x,label\n" + "\n".join(lines) + "\n"


@pytest.mark.e2e
def test_a_growing_folder_retrains_only_when_a_partition_arrives(tmp_path):
    def folder_source(params: dict) -> None:
        shrink_params(params, {"parts-logreg": {"dataset": "parts", "backend": "sklearn", "model": "logreg"}})
        params["datasets"] = {"parts": {"source": "folder", "path": "incoming", **TABLE}}

    project = make_project(tmp_path / "project", folder_source)
    (project / "incoming").mkdir()
    for month in (1, 2):
        (project / "incoming" / f"2024-{month:02d}.csv").write_text(partition(month))
    run(["dvc", "repro"], project)
    assert storage.read_json(project / "data/raw/parts/snapshot.json")["rows"] == 80
    assert (project / "results/parts-logreg/metrics.json").exists()

    refresh = ["dvc", "repro", "--single-item", "--force", "sources"]  # with PIPELINE_REFRESH=1: make refresh
    (project / "incoming" / "2024-03.csv").write_text(partition(3))
    assert executed_stages(run(["dvc", "repro"], project).stdout) == []  # a plain repro reproduces

    refresh_env = {**subprocess_env(), stamps.REFRESH_ENV: "1"}
    (project / "incoming" / "2024-03.csv").unlink()
    assert executed_stages(run(refresh, project, env=refresh_env).stdout) == ["sources"]
    assert executed_stages(run(["dvc", "repro"], project).stdout) == []

    (project / "incoming" / "2024-03.csv").write_text(partition(3))
    run(refresh, project, env=refresh_env)
    executed = executed_stages(run(["dvc", "repro"], project).stdout)
    assert {"download@parts", "preprocess@parts", "train@parts-logreg"} <= set(executed)
    assert storage.read_json(project / "data/raw/parts/snapshot.json")["rows"] == 120

    shutil.move(project / "incoming", tmp_path / "away")  # the source is gone: its snapshot's token stands in
    checked = run(refresh, project, env=refresh_env)
    assert "keeping the snapshot" in checked.stdout + checked.stderr
    assert executed_stages(run(["dvc", "repro"], project).stdout) == []
