"""scripts/co2-feed driven from Python: the demo, the tests and the benchmark start its server and
publish deliveries through this module. No stage imports it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from pipeline.core.errors import PipelineError
from pipeline.workflow.mlflow_server import free_port
from pipeline.workflow.project_copy import ROOT

SCRIPT = ROOT / "scripts" / "co2-feed"
TABLE = "co2.csv"


def feed(folder: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `scripts/co2-feed --dir folder ARGS` (publish, advance, break, shift); its report line."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--dir", str(folder), *args], text=True, capture_output=True, env=env
    )
    if result.returncode != 0:
        raise PipelineError(f"scripts/co2-feed {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


@contextlib.contextmanager
def serve(folder: Path, port: int | None = None, timeout: float = 30) -> Iterator[str]:
    """The URL of co2.csv served from `folder` on 127.0.0.1 (a free port unless given), while inside."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/{TABLE}"
    folder.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--dir", str(folder), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        start = time.perf_counter()
        while not _answers(url):
            if server.poll() is not None:
                raise PipelineError(
                    f"scripts/co2-feed serve exited ({server.returncode}): is port {port} free?"
                )
            if time.perf_counter() - start > timeout:
                raise PipelineError(
                    f"scripts/co2-feed serve did not answer on port {port} within {timeout:.0f} s"
                )
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        requests.head(url, timeout=1)
        return True
    except requests.RequestException:
        return False
