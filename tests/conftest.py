"""Shared fixtures: a local HTTP server, tiny IDX data, and throw-away copies of the project."""

from __future__ import annotations

import gzip
import http.server
import logging
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pipeline.core import storage
from pipeline.datasets import idx
from pipeline.datasets.processed import ProcessedData, Schema, Split
from pipeline.workflow import mlflow_server as local_server
from pipeline.workflow import project_copy
from pipeline.workflow.environment import child_env
from pipeline.workflow.mlflow_server import free_port  # noqa: F401  (tests import it from here)
from stages import cli
from tests.team_stack import team_stack  # noqa: F401  (the fixture: scripts/services' stack)

ROOT = Path(__file__).resolve().parents[1]


TINY_SHAPES = {"image": (8, 8, 1), "tabular": (6,), "sequence": (5, 3)}


def make_data(task: str = "classification", layout: str = "image", n_train: int = 64) -> ProcessedData:
    """Tiny random processed data (3 classes, or float targets) in one of the three layouts."""
    rng = np.random.default_rng(0)
    shape = TINY_SHAPES[layout]

    def split(n: int) -> Split:
        x = rng.normal(size=(n, *shape)).astype(np.float32)
        if task == "classification":
            return Split(x, rng.integers(0, 3, n).astype(np.int64))
        return Split(x, rng.normal(size=n).astype(np.float32))

    schema = Schema(
        dataset=f"tiny_{layout}",
        task=task,
        layout=layout,
        input_shape=shape,
        n_classes=3 if task == "classification" else None,
    )
    return ProcessedData(schema, split(n_train), split(16), split(16))


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the fixture's directory; answers 500 for the first `failures[path]` requests of a path.
    Headers named (lower case) in `omit_headers` are left out; `etags` adds an ETag of each file."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        remaining = self.server.failures.get(self.path, 0)
        if remaining:
            self.server.failures[self.path] = remaining - 1
            self.send_error(500, "planted failure")
            return
        self.server.hits.append(self.path)
        super().do_GET()

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() not in self.server.omit_headers:
            super().send_header(keyword, value)

    def end_headers(self) -> None:
        served = Path(self.translate_path(self.path))
        if self.server.etags and served.is_file():
            super().send_header("ETag", f'"{storage.sha256_file(served)[:16]}"')
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path, http.server.ThreadingHTTPServer]]:
    """(base URL, served directory, server) for a server on 127.0.0.1 with a free port."""
    served = tmp_path / "served"
    served.mkdir()
    handler = lambda *a, **kw: _Handler(*a, directory=str(served), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.failures, server.hits, server.omit_headers, server.etags = {}, [], set(), False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served, server
    server.shutdown()
    server.server_close()


def write_idx_set(directory: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> dict:
    """Write four small gzipped IDX files; return the `files:` params section pinning them."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 6, 6), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 3).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 6, 6), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 3).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, array in arrays.items():
        plain = directory / f"{role}.plain"
        idx.write_idx(plain, array)
        payload = plain.read_bytes()
        plain.unlink()
        name = f"{role.replace('_', '-')}-idx{array.ndim}-ubyte.gz"
        (directory / name).write_bytes(gzip.compress(payload))
        files[role] = {"url": f"http://127.0.0.1:9/canonical/{name}", "sha256": storage.sha256_bytes(payload)}
    return files


@pytest.fixture
def idx_files(tmp_path: Path) -> tuple[Path, dict]:
    directory = tmp_path / "idx_mirror"
    return directory, write_idx_set(directory)


def subprocess_env() -> dict[str, str]:
    """The environment for running stages and dvc in a project copy (see `child_env`)."""
    return child_env(isolated=True)


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        cmd, cwd=cwd, env=kwargs.pop("env", subprocess_env()), text=True, capture_output=True, **kwargs
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def shrink_params(params: dict, experiments: dict[str, dict], *, epochs: int = 2) -> None:
    """The real params made small: only `experiments`, the data sets and models they use, few epochs."""
    params["experiments"] = experiments
    used = {spec["dataset"] for spec in experiments.values()}
    params["datasets"] = {name: cfg for name, cfg in params["datasets"].items() if name in used}
    params["models"] = {
        backend: {
            name: cfg
            for name, cfg in models.items()
            if any(s["backend"] == backend and s["model"] == name for s in experiments.values())
        }
        for backend, models in params["models"].items()
    }
    params["train"]["keras"].update(epochs=epochs, batch_size=32)


def make_project(destination: Path, edit_params=None) -> Path:
    """A git + DVC copy of the project in `destination`, with params.yaml passed through `edit_params`."""
    return project_copy.make(destination, edit_params=edit_params)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_server.serve(tmp_path_factory.mktemp("mlflow-server")) as (uri, _):
        yield uri


@dataclass(frozen=True)
class Postgres:
    """A running server: its SQLAlchemy URL (no password) and the environment that logs in (PGPASSWORD)."""

    url: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL on 127.0.0.1 started by scripts/postgres in a throw-away state folder."""
    # mkdtemp, not tmp_path: short (a Unix socket path has ~100 bytes) and enterable by `postgres`
    state = Path(tempfile.mkdtemp(prefix="pg-"))
    state.chmod(0o755)
    env = {**subprocess_env(), "POSTGRES_STATE_DIR": str(state), "POSTGRES_PORT": str(free_port())}

    def script(command: str) -> str:
        result = subprocess.run(
            [ROOT / "scripts" / "postgres", command], env=env, text=True, capture_output=True
        )
        if result.returncode != 0:
            pytest.fail(f"scripts/postgres {command}: {result.stderr.strip()}")
        return result.stdout.strip()

    try:
        url = script("up")
        password = re.search(r"PGPASSWORD=(\S+)", script("env")).group(1)
        yield Postgres(url, {"PGPASSWORD": password})
    finally:
        script("down")
        shutil.rmtree(state, ignore_errors=True)


def in_process(main: Callable, argv: list[str]) -> tuple[int, list[logging.LogRecord]]:
    """Run a stage's main through cli.run; (exit code, the records it logged on `stages`)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.ERROR)
    handler.emit = records.append
    logger = logging.getLogger("stages")
    logger.addHandler(handler)
    try:
        cli.run(main, argv)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        logger.removeHandler(handler)
    return code, records
