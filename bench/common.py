"""What every benchmark shares: timing, the machine header, project copies and RESULTS.md sections.

A benchmark never touches the workspace's outputs or MLflow store: it runs `dvc repro` in a git + DVC
copy of the project in a temporary directory (`make_project`), whose stages log to the copy's own
`mlflow.db`, and in-process measurements point MLflow at a temporary store (`temporary_tracking_uri`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import gzip
import importlib.metadata
import json
import logging
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.core import storage
from pipeline.datasets import idx

log = logging.getLogger("bench")

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "bench" / "RESULTS.md"
SECTIONS = {  # name -> heading, in the order of RESULTS.md
    "accuracy": "1. Accuracy on real data",
    "overhead": "2. Pipeline overhead over a plain Keras script",
    "incremental": "3. No-op and incremental runs",
    "throughput": "4. Training throughput (samples/s)",
    "mlflow_cost": "5. MLflow logging cost",
}
VERSION_PACKAGES = ("tensorflow", "keras", "scikit-learn", "mlflow", "dvc", "numpy")
PROJECT_FILES = (
    "pipeline",
    "stages",
    "dvc.yaml",
    "params.yaml",
    ".dvcignore",
    ".gitignore",
    "pyproject.toml",
)
SUITE_FILES = ("params.yaml", ".dvcignore", ".dvc/config", ".dvc/.gitignore")  # a suite: a DVC project
SUITE_LINKS = ("dvc.yaml", "pipeline", "stages")  # ... whose pipeline and code are the root's
FASHION_MIRROR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
FASHION_EXPERIMENT_PREFIX = "fashion_mnist-"
_RUNNING_STAGE = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)


class BenchError(RuntimeError):
    """A benchmark cannot run (missing data, a failed command); the message says why."""


# --- timing ------------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Timed:
    """A finished command: its wall time, the CPU time of it and its children (user + system), output."""

    seconds: float
    cpu_seconds: float
    stdout: str
    stderr: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    cmd: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> Timed:
    """Run `cmd` in `cwd` and time it; BenchError with the output's tail if it fails.

    CPU time counts the command and every descendant it waited for (DVC waits for its stages); it is
    less sensitive than wall time to other work on the machine.
    """
    cpu, start = _children_cpu(), time.perf_counter()
    result = subprocess.run(
        list(cmd), cwd=cwd, env=dict(env or project_env()), text=True, capture_output=True, timeout=timeout
    )
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if result.returncode != 0:
        raise BenchError(
            f"`{' '.join(cmd)}` in {cwd} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return Timed(seconds, cpu, result.stdout, result.stderr)


def executed_stages(stdout: str) -> list[str]:
    """The stages a `dvc repro` ran (its "Running stage '<name>'" lines), in order."""
    return _RUNNING_STAGE.findall(stdout)


def last_json_line(text: str) -> dict[str, Any]:
    """The last line of `text` that is a JSON object (how probe scripts report their figures)."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"no JSON result line in the output:\n{text[-2000:]}")


# --- processes and project copies ----------------------------------------------------------------


def project_env(project: Path | None = None, **overrides: str) -> dict[str, str]:
    """The environment for `dvc` and stage processes.

    The project's interpreter comes first on PATH; bytecode is cached (without it every stage spends
    ~15 s compiling TensorFlow); any MLFLOW_TRACKING_URI of the user is dropped so stages log to the
    copy's own store; with `project`, PYTHONPATH makes `python -m stages.…` import the copy's code (from a
    suite's folder too, where the editable install would otherwise find the workspace's).
    """
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    env["DVC_NO_ANALYTICS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if project is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(project), env.get("PYTHONPATH"))))
    env.update(overrides)
    return env


def edit_yaml(path: Path, edit: Callable[[dict], None]) -> None:
    document = yaml.safe_load(path.read_text())
    edit(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def copy_project(destination: Path) -> None:
    """The project's code and pipeline files into `destination` (no data, outputs, store or caches)."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, destination / name)


def make_project(
    destination: Path,
    *,
    edit_params: Callable[[dict], None] | None = None,
    suite: str | None = None,
    edit_suite_params: Callable[[dict], None] | None = None,
) -> Path:
    """A git + DVC copy of the project's code and pipeline files (no data, no outputs, no store).

    `suite` (e.g. "fashion") also copies that suite: its params.yaml and DVC project files, and its
    links to the root's dvc.yaml and code. DVC's analytics and update check are off in the copy: both
    start background processes that would compete for the CPU.
    """
    copy_project(destination)
    if suite is not None:
        for name in SUITE_FILES:
            (destination / suite / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / suite / name, destination / suite / name)
        for name in SUITE_LINKS:
            (destination / suite / name).symlink_to(os.readlink(ROOT / suite / name))
    if edit_params is not None:
        edit_yaml(destination / "params.yaml", edit_params)
    if suite is not None:
        edit_yaml(destination / suite / "params.yaml", _suite_editor(destination, edit_suite_params))
    init_project(destination)
    return destination


def init_project(folder: Path) -> None:
    """Make `folder` a git + DVC project with all its files committed; no analytics, no update check."""
    env = project_env(folder)
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "config", "user.email", "bench@example.com"],
        ["git", "config", "user.name", "bench"],
        ["dvc", "init", "-q"],
        ["dvc", "config", "core.analytics", "false"],
        ["dvc", "config", "core.check_update", "false"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "project copy"],
    ):
        run(cmd, folder, env=env)


def _suite_editor(project: Path, edit: Callable[[dict], None] | None) -> Callable[[dict], None]:
    """The suite's params edit, after adding sections its stages track but the file lacks.

    `promote` tracks the `mlflow` section; a suite params file without it stops `dvc repro` at promote
    ("Parameters 'mlflow' are missing"), so the copy takes the root's section (the values stages use).
    """
    root_params = yaml.safe_load((project / "params.yaml").read_text())

    def apply(params: dict) -> None:
        for section in ("mlflow", "promote"):
            if section not in params and section in root_params:
                log.warning("suite params lack `%s`: the copy uses params.yaml's", section)
                params[section] = root_params[section]
        if edit is not None:
            edit(params)

    return apply


@contextlib.contextmanager
def workdir(name: str, *, keep: bool = False) -> Iterator[Path]:
    """A temporary directory for one benchmark; removed afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        yield path
    finally:
        if keep:
            log.info("kept %s", path)
        else:
            shutil.rmtree(path, ignore_errors=True)


def temporary_tracking_uri(directory: Path) -> contextlib.AbstractContextManager[str]:
    """MLFLOW_TRACKING_URI -> a SQLite store in `directory` for in-process code, restored afterwards."""
    return tracking_uri_set(f"sqlite:///{directory / 'mlflow.db'}")


@contextlib.contextmanager
def tracking_uri_set(uri: str) -> Iterator[str]:
    """MLFLOW_TRACKING_URI -> `uri` for in-process code, restored afterwards."""
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        yield uri
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


# --- a stage run with timers ---------------------------------------------------------------------

STAGE_PROBE = '''\
"""Run one pipeline stage (`python probe.py <train|evaluate> <experiment>`) with timers around its parts.

Imports are timed first (TensorFlow, then the stage's own modules, then MLflow, which the stage would
import lazily); then the pipeline's functions and every `Run.log_*` / `set_*` method are wrapped.
A timed call inside another counts for the outer one only. Prints one JSON line of seconds per part.
"""
import contextlib
import importlib
import json
import sys
import time

start = time.perf_counter()
import keras  # noqa: E402,F401
import numpy  # noqa: E402,F401
import tensorflow  # noqa: E402,F401

imported_tf = time.perf_counter()
stage_name, experiment = sys.argv[1], sys.argv[2]
stage = importlib.import_module(f"stages.{stage_name}")
from pipeline.tracking import runs, store  # noqa: E402
from pipeline.tracking.run import Run  # noqa: E402
from pipeline.core import storage  # noqa: E402

imported_pipeline = time.perf_counter()
store.import_mlflow()

imported_mlflow = time.perf_counter()
TIMED = (
    ("pipeline.datasets.processed", ("load", "load_schema", "data_hash"), "load data"),
    ("pipeline.models.training", ("fit",), "build, compile, fit"),
    ("pipeline.models.persistence", ("save",), "save model"),
    ("pipeline.models.persistence", ("load",), "load model"),
    ("pipeline.evaluation.assessment", ("assess",), "evaluate: predict, metrics, figures"),
    ("pipeline.evaluation.assessment", ("inference_speed",), "evaluate: inference throughput"),
    ("pipeline.core.storage", ("write_json", "write_text"), "write results"),
)
spent = {}
active = []


def add(key, seconds):
    spent[key] = spent.get(key, 0.0) + seconds


def timed(owner, name, key):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        active.append(key)
        begin = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            active.pop()
            if not active:
                add(key, time.perf_counter() - begin)

    setattr(owner, name, wrapper)


for module_name, names, key in TIMED:
    module = importlib.import_module(module_name)
    for name in names:
        if hasattr(module, name):
            timed(module, name, key)
for name in dir(Run):
    if name.startswith(("log_", "set_")) and callable(getattr(Run, name)):
        timed(Run, name, f"mlflow: {name}")
open_run = runs.run


@contextlib.contextmanager
def run(*args, **kwargs):
    manager = open_run(*args, **kwargs)
    begin = time.perf_counter()
    value = manager.__enter__()
    add("mlflow: open run", time.perf_counter() - begin)
    try:
        yield value
    except BaseException:
        if not manager.__exit__(*sys.exc_info()):
            raise
    else:
        begin = time.perf_counter()
        manager.__exit__(None, None, None)
        add("mlflow: end run", time.perf_counter() - begin)


runs.run = run
stage.main([experiment])
end = time.perf_counter()
if "build, compile, fit" in spent:
    fit_seconds = storage.read_json(f"results/{experiment}/train.json")["fit_seconds"]
    spent["build, compile"] = spent.pop("build, compile, fit") - fit_seconds
    spent["fit"] = fit_seconds
record_file = "run.json" if stage_name == "train" else "details.json"
record = storage.read_json(f"results/{experiment}/{record_file}")
print(json.dumps({
    **spent, "import TensorFlow": imported_tf - start, "import pipeline": imported_pipeline - imported_tf,
    "import MLflow": imported_mlflow - imported_pipeline, "in process": end - start,
    "tracking status": record.get("status") or record.get("tracking", {}).get("status"),
}))
'''


def write_probe(directory: Path) -> Path:
    path = directory / "probe_stage.py"
    path.write_text(STAGE_PROBE)
    return path


def run_probe(
    probe: Path, stage: str, experiment: str, cwd: Path, env: Mapping[str, str]
) -> tuple[float, dict[str, Any]]:
    """(wall seconds, seconds per part) of one stage run through STAGE_PROBE in `cwd`, a DVC project's folder.

    The stage gets the DVC_ROOT that DVC would give it. `start-up` is the wall time outside the process's
    own clock; `rest` what no timer covered.
    """
    timed = run(["python", str(probe), stage, experiment], cwd, env={**env, "DVC_ROOT": str(cwd)})
    parts = last_json_line(timed.stdout)
    parts["start-up"] = timed.seconds - parts["in process"]
    listed = sum(v for k, v in parts.items() if isinstance(v, float) and k not in ("in process", "start-up"))
    parts["rest"] = max(0.0, parts["in process"] - listed)
    return timed.seconds, parts


# --- Fashion-MNIST -----------------------------------------------------------------------------


def require_fashion_mnist() -> None:
    if not FASHION_MIRROR.is_dir():
        raise BenchError(
            f"{FASHION_MIRROR} not found: install Debian's dataset-fashion-mnist "
            "(`sudo apt-get install dataset-fashion-mnist`, or `make fashion`)"
        )


def fashion_files() -> dict[str, dict[str, str]]:
    """The `files:` section of fashion/params.yaml (canonical URLs and sha256 of the payloads)."""
    params = yaml.safe_load((ROOT / "fashion" / "params.yaml").read_text())
    return params["datasets"]["fashion_mnist"]["files"]


def read_fashion(role: str) -> Any:
    """One of Debian's Fashion-MNIST arrays (train_images, train_labels, test_images, test_labels)."""
    require_fashion_mnist()
    name = Path(fashion_files()[role]["url"]).name
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "payload.idx"
        plain.write_bytes(gzip.decompress((FASHION_MIRROR / name).read_bytes()))
        return idx.read_idx(plain).copy()


def fashion_subsample_mirror(directory: Path, n_train: int, n_test: int) -> dict[str, dict[str, str]]:
    """A mirror of the first `n_train` / `n_test` Fashion-MNIST images; returns the `files:` section for it.

    The pipeline then runs unchanged (download from the mirror, verify, preprocess) on less data.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, spec in fashion_files().items():
        array = read_fashion(role)[: n_train if role.startswith("train") else n_test]
        plain = directory / f"{role}.idx"
        idx.write_idx(plain, array)
        payload = plain.read_bytes()
        plain.unlink()
        (directory / Path(spec["url"]).name).write_bytes(gzip.compress(payload, compresslevel=1))
        files[role] = {"url": spec["url"], "sha256": storage.sha256_bytes(payload)}
    return files


def use_mirror(params: dict, mirror: Path | None, files: Mapping[str, Any] | None) -> None:
    """Point the Fashion-MNIST data set of a suite's params at a subsample mirror (None: Debian's)."""
    dataset = params["datasets"]["fashion_mnist"]
    if mirror is not None and files is not None:
        dataset["mirror"] = str(mirror)
        dataset["files"] = dict(files)


# --- the machine -------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return None


def _gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip()


def versions() -> dict[str, str]:
    """Python and the packages that matter, from their metadata (nothing is imported)."""
    found = {"python": platform.python_version()}
    for package in VERSION_PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def machine() -> dict[str, Any]:
    """The machine, versions, date and load: what RESULTS.md's header shows."""
    memory = _memory_gb()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(memory, 1) if memory else None,
        "gpus": _gpus(),
        "os": platform.platform(),
        "load_average": round(os.getloadavg()[0], 2),
        "commit": _commit(),
        "versions": versions(),
    }


def load_note() -> str:
    """The 1-minute load average against the cores: a busy machine makes every time longer."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    busy = " — **busy machine: absolute times are inflated**" if load > 0.5 * cores else ""
    return f"load average {load:.2f} on {cores} cores{busy}"


# --- RESULTS.md --------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A markdown table; `align` has one letter per column (l or r; default l)."""
    rules = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rules) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


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
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"_{mode}, {when}, took {seconds / 60:.1f} min; {load_note()} at the end._"


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


# --- command line ------------------------------------------------------------------------------


def parser(description: str | None) -> argparse.ArgumentParser:
    """Options every benchmark takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help="small data, few repeats: about a minute")
    result.add_argument("--keep", action="store_true", help="keep the temporary project copies")
    result.add_argument("--json", type=Path, help="also write the raw figures to this JSON file")
    result.add_argument("--results", type=Path, default=RESULTS_FILE, help="the RESULTS.md to update")
    result.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    return result


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)


def main_wrapper(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a benchmark's main; a BenchError becomes one message and exit code 2."""
    setup_logging()
    try:
        main(argv)
    except BenchError as err:
        log.error("%s", err)
        sys.exit(2)
