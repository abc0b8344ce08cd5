"""bench/RESULTS.md: one marked part per benchmark (and the header), each replaced on its own."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bench import machine
from bench.commands import log
from pipeline.core import storage

RESULTS_FILE = Path(__file__).with_name("RESULTS.md")
SECTIONS = {  # name -> heading, in the order of RESULTS.md
    "accuracy": "1. Accuracy on real data",
    "overhead": "2. Pipeline overhead over a plain Keras script",
    "incremental": "3. No-op and incremental runs",
    "throughput": "4. Training throughput (samples/s)",
    "mlflow_cost": "5. MLflow logging cost",
    "continuous": "6. Continuous training: unchanged and changed live source",
    "remote": "7. DVC remote: push and pull, the team stack's S3 vs a local folder",
    "tune": "8. Tuning: the best point in a time budget, 1 vs 2 workers",
}


def fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def _read_parts(text: str) -> dict[str, str]:
    parts = {}
    for name in ("header", *SECTIONS):
        start, end = _markers(name)
        found = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), text, re.DOTALL)
        if found:
            parts[name] = found.group(1)
    return parts


def _render(parts: Mapping[str, str]) -> str:
    blocks = []
    for name in ("header", *SECTIONS):
        start, end = _markers(name)
        if name in parts:
            body = parts[name]
        elif name == "header":
            body = "# Benchmark results\n\n_Not run yet: `make bench` (see bench/README.md)._"
        else:
            body = f"## {SECTIONS[name]}\n\n_Not run yet: `python -m bench.{name}`._"
        blocks.append(f"{start}\n{body}\n{end}")
    return "\n\n".join(blocks) + "\n"


@contextlib.contextmanager
def _results_lock() -> Iterator[None]:
    with open(Path(tempfile.gettempdir()) / "bench-results.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update_results(name: str, body: str, path: Path = RESULTS_FILE) -> None:
    """Replace one part ("header" or a benchmark) of RESULTS.md, atomically, keeping the others."""
    with _results_lock():
        parts = _read_parts(path.read_text()) if path.exists() else {}
        parts[name] = body.strip()
        storage.write_text(path, _render(parts))


def section_meta(quick: bool, seconds: float) -> str:
    mode = "**quick run** (`--quick`: small data, few repeats)" if quick else "full run"
    return f"_{mode}, {machine.now()}, took {seconds / 60:.1f} min; {machine.load_note()} at the end._"


def publish(name: str, args: argparse.Namespace, body: str, data: Mapping[str, Any], started: float) -> None:
    """Write the benchmark's section into RESULTS.md (unless --no-write) and its raw figures to --json."""
    seconds = time.perf_counter() - started
    text = f"## {SECTIONS[name]}\n\n{section_meta(args.quick, seconds)}\n\n{body.strip()}"
    if not args.no_write:
        update_results(name, text, args.results)
        log.info("wrote section %r of %s", name, args.results)
    if args.json is not None:
        storage.write_json(args.json, {"benchmark": name, "quick": args.quick, "seconds": seconds, **data})
    print(text)
