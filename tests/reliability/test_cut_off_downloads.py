"""Downloads cut off or stalled mid-body, and a download stage killed mid-body."""

from __future__ import annotations

import contextlib
import http.server
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import config
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download, idx, sources
from pipeline.datasets.sources import idx_files as idx_source
from stages import download as download_stage
from tests.conftest import in_process, write_idx_set
from tests.reliability.faults import kill_group, popen, wait_for, write_params

# --- a download cut off mid-body ----------------------------------------------------------


class FlakyState:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cut_off = 0  # this many responses stop half-way through the body
        self.stall = False  # ... and then hang (until `release`) instead of closing the connection
        self.ranges: bool | str = True  # answer Range requests with 206 ("wrong": with other bytes)
        self.release = threading.Event()
        self.half_sent = threading.Event()
        self.requests: list[tuple[str, str | None, int]] = []


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    """Serves files; the first `cut_off` responses send half their body, then close or stall."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state: FlakyState = self.server.state
        path = state.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        asked = self.headers.get("Range")
        start = int(asked.split("=")[1].split("-")[0]) if asked and state.ranges else 0
        if asked and state.ranges == "wrong":  # a broken server: 206, but not the bytes asked for
            start = start // 2
        self.send_response(206 if asked and state.ranges else 200)
        if asked and state.ranges:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        state.requests.append((self.path, asked, start))
        if state.cut_off > 0:
            state.cut_off -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            state.half_sent.set()
            if state.stall:
                state.release.wait(60)
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def flaky_server(tmp_path: Path) -> Iterator[tuple[str, FlakyState]]:
    state = FlakyState(tmp_path / "served")
    state.root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    server.daemon_threads = True
    server.state = state
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def idx_dataset(tmp_path: Path, flaky_server) -> tuple[config.IdxSource, FlakyState]:
    """An IDX data set (train images ~2 MB gzipped) whose mirror is the flaky server."""
    base, state = flaky_server
    files = write_idx_set(state.root, n_train=60_000)
    return config.IdxSource(source="idx", files=files, mirror=base), state


@pytest.fixture(autouse=False)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)


def test_download_cut_off_every_time_fails_and_leaves_nothing(idx_dataset, tmp_path, fast_retries) -> None:
    cfg, state = idx_dataset
    state.cut_off = 1_000
    out = tmp_path / "data" / "raw" / "tiny"
    with pytest.raises(PipelineError, match=r"(?s)could not fetch train-images.*broke off after"):
        sources.fetch_raw("tiny", cfg, out)
    assert list((tmp_path / "data" / "raw").iterdir()) == []  # no partial file, no temp dir

    state.cut_off = 0  # the next run starts clean and verifies
    sources.fetch_raw("tiny", cfg, out)
    assert idx.read_idx(out / "train_images.idx").shape == (60_000, 6, 6)
    assert list((tmp_path / "data" / "raw").iterdir()) == [out]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"{r}.idx" for r in idx_source.ROLES), "meta.json"]
    )


@pytest.mark.parametrize(
    ("ranges", "resumed_at"),
    [(True, "the bytes it had"), (False, "byte 0"), ("wrong", "byte 0")],
    ids=["resumed-with-range", "no-range-support", "wrong-range-answer"],
)
def test_download_cut_off_once_is_fetched_again_and_verified(
    idx_dataset, tmp_path, fast_retries, ranges, resumed_at
) -> None:
    cfg, state = idx_dataset
    state.cut_off, state.ranges = 1, ranges
    dest = tmp_path / "out" / "train_images.idx"
    spec = cfg.files["train_images"]
    download.fetch(spec.url, spec.sha256, dest, mirror=cfg.mirror)
    assert storage.sha256_file(dest) == spec.sha256
    first, again, *rest = state.requests
    assert first[0] == again[0] and again[1] is not None and again[1].startswith("bytes=")
    if resumed_at == "the bytes it had":
        assert again[2] == int(again[1].split("=")[1].rstrip("-")) > 0 and rest == []
    elif ranges == "wrong":  # the answer did not fit: dropped, then everything again without Range
        assert [(path, asked) for path, asked, _ in rest] == [(first[0], None)]
    else:
        assert again[2] == 0 and rest == []
    assert sorted(p.name for p in dest.parent.iterdir()) == ["train_images.idx"]


def test_download_stalled_mid_body_times_out_and_is_fetched_again(idx_dataset, tmp_path, monkeypatch) -> None:
    cfg, state = idx_dataset
    monkeypatch.setattr(download, "TIMEOUT_SECONDS", (2, 0.5))
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)
    state.cut_off, state.stall = 1, True
    spec = cfg.files["train_labels"]
    started = time.monotonic()
    download.fetch(spec.url, spec.sha256, tmp_path / "labels.idx", mirror=cfg.mirror)
    assert time.monotonic() - started < 10
    assert storage.sha256_file(tmp_path / "labels.idx") == spec.sha256


def test_download_stage_killed_mid_body_leaves_no_partial_file(idx_dataset, tmp_path: Path) -> None:
    cfg, state = idx_dataset
    project = tmp_path / "project"
    project.mkdir()
    params = {"datasets": {"tiny": cfg.model_dump(mode="json", exclude_none=True)}}
    write_params(project / "params.yaml", params)
    state.cut_off, state.stall = 1, True

    process = popen([sys.executable, "-m", "stages.download", "tiny"], project)
    try:
        raw = project / "data" / "raw"
        partial = wait_for(
            lambda: [p for p in raw.glob(".tiny.*.tmp/.train_images.idx.*.part") if p.stat().st_size > 0],
            process,
            60,
            "a partly downloaded file",
        )
    finally:
        kill_group(process)
    assert partial[0].exists() and not (raw / "tiny").exists()  # the partial file is not the data set

    state.release.set()
    with contextlib.chdir(project):
        assert in_process(download_stage.main, ["tiny"])[0] == 0  # starts clean, verifies
    assert [p.name for p in raw.iterdir()] == ["tiny"]  # the killed run's staging dir is gone
    for role in idx_source.ROLES:
        assert idx.read_idx(raw / "tiny" / f"{role}.idx").shape[0] in (60_000, 20)
