"""dvc.yaml's code dependencies are exactly the project modules each stage imports.

A module a stage imports but does not list would let an edit go unnoticed by `dvc repro`; a listed
module it never imports would re-run it for nothing. The imports are read from the source (also
those inside functions); a Keras and a scikit-learn experiment, run stage by stage in fresh processes,
check that what they really load is listed too (a Keras stage loads no scikit-learn backend code).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.conftest import shrink_params, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "stages")
BACKENDS = ("keras", "sklearn")
NO_EFFECT_ON_OUTPUTS = {  # imported everywhere, yet an edit cannot change a stage's outputs
    "pipeline/__init__.py": "sets TensorFlow's C++ log level",
    "pipeline/errors.py": "defines the exception type stages report",
}


def module_path(name: str) -> Path | None:
    """The file of project module `name`, or None when it is not one (a class, a function)."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _inside(tree: ast.Module, select) -> set[int]:
    """ids of the nodes in the bodies of the nodes `select` picks."""
    return {
        id(child)
        for node in ast.walk(tree)
        if select(node)
        for statement in node.body
        for child in ast.walk(statement)
    }


@cache
def imported_names(path: Path) -> frozenset[tuple[str, bool]]:
    """(dotted name, imported inside a function?) of the project modules and members `path` imports.

    `if TYPE_CHECKING:` blocks never run and are left out.
    """
    tree = ast.parse(path.read_text())
    never_run = _inside(tree, lambda node: isinstance(node, ast.If) and _is_type_checking(node.test))
    in_function = _inside(tree, lambda node: isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
    package = path.parent.relative_to(ROOT).parts
    found = set()
    for node in ast.walk(tree):
        if id(node) in never_run:
            continue
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = list(package[: len(package) - node.level + 1]) if node.level else []
            base = ".".join([*parts, *([node.module] if node.module else [])])
            names = {base, *(f"{base}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "importlib.import_module",
            "import_module",
        ):
            names = _modules_imported_by_name(path)
        else:
            continue
        found.update((name, id(node) in in_function) for name in names if name.split(".")[0] in PACKAGES)
    return frozenset(found)


def _modules_imported_by_name(path: Path) -> set[str]:
    """A package `__init__` that imports its own modules by name (`sources.kind`) may load any of them."""
    assert path.name == "__init__.py", f"{path}: a name-based import outside a package __init__"
    folder = path.parent.relative_to(ROOT)
    return {".".join((*folder.parts, module.stem)) for module in path.parent.glob("*.py")}


@cache
def _is_docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def imported_files(entry: str, skip: tuple[str, ...] = ()) -> set[str]:
    """Files (relative to the root) of every project module `entry` can import, with its packages.

    Imports of `skip` packages inside functions are not followed (the other backend's code, which
    only the other backend's items reach); an import of them at a module's top level still is.
    """
    seen: set[Path] = set()
    todo = [(entry, False)]
    while todo:
        name, in_function = todo.pop()
        if in_function and _within(name, skip):
            continue
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            path = module_path(".".join(parts[:depth]))
            if path and path not in seen:
                seen.add(path)
                todo.extend(imported_names(path))
    return {file for file in (str(path.relative_to(ROOT)) for path in seen) if _matters(file)}


def _matters(file: str) -> bool:
    """Whether an edit of `file` (relative to the root) can change a stage's outputs."""
    return file not in NO_EFFECT_ON_OUTPUTS and not _is_docstring_only(ROOT / file)


@cache
def pipeline_stages() -> dict[str, tuple[str, list[str], tuple]]:
    """{stage: (entry module, code dependencies, backends)} of dvc.yaml.

    A stage generated per experiment lists `pipeline/${item.backend}_backend`: its Keras items
    import only the Keras backend, its scikit-learn items only the scikit-learn one. Its other deps
    are the same for every item, so a module one backend's items import counts as used (today
    `datasets/download.py` and `archives.py`, which only Keras' pretrained weights need).
    """
    table = {}
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        body = stage.get("do", stage)
        entry = re.match(r"python -m ([\w.]+)", body["cmd"]).group(1)
        deps = [dep for dep in body["deps"] if dep.startswith(tuple(f"{p}/" for p in PACKAGES))]
        backends = BACKENDS if any("${item.backend}" in dep for dep in deps) else (None,)
        table[name] = entry, deps, backends
    return table


def stages() -> list:
    return [pytest.param(*row, id=name) for name, row in pipeline_stages().items()]


def resolve(deps: list[str], backend: str | None) -> list[str]:
    """The dependencies of a stage's items of `backend`."""
    return [dep.replace("${item.backend}", backend or "") for dep in deps]


def uncovered(files: set[str], deps: list[str]) -> list[str]:
    """The files no dependency covers (as itself or as a folder above it)."""
    return sorted(file for file in files if not any(covers(dep, file) for dep in deps))


def imports_per_backend(entry: str, deps: list[str], backends: tuple) -> dict:
    """{backend: (its resolved dependencies, the files it imports)}."""
    result = {}
    for backend in backends:
        skip = tuple(f"pipeline.{other}_backend" for other in BACKENDS if backend and other != backend)
        result[backend] = resolve(deps, backend), imported_files(entry, skip)
    return result


def covers(dep: str, file: str) -> bool:
    return file == dep or file.startswith(f"{dep}/")


@pytest.mark.parametrize(("entry", "deps", "backends"), stages())
def test_a_stage_lists_every_module_it_imports(entry, deps, backends):
    for backend, (resolved, files) in imports_per_backend(entry, deps, backends).items():
        missing = uncovered(files, resolved)
        where = f"{entry} ({backend} backend)" if backend else entry
        assert not missing, f"{where} imports these without listing them in dvc.yaml's deps: {missing}"


@pytest.mark.parametrize(("entry", "deps", "backends"), stages())
def test_a_stage_lists_no_module_it_does_not_import(entry, deps, backends):
    per_backend = imports_per_backend(entry, deps, backends).values()
    unused = [
        dep
        for index, dep in enumerate(deps)
        if not any(covers(resolved[index], f) for resolved, files in per_backend for f in files)
    ]
    assert not unused, f"{entry} lists code in its dvc.yaml deps that none of its items imports: {unused}"


def test_the_import_reader_follows_function_level_and_name_based_imports():
    train = imported_files("stages.train", skip=("pipeline.sklearn_backend",))
    assert "pipeline/keras_backend/fit.py" in train  # imported inside a function of training.py
    assert "pipeline/sklearn_backend/fit.py" not in train
    assert ("pipeline.keras_backend.fit.fit_keras", True) in imported_names(ROOT / "pipeline/training.py")
    assert ("pipeline.models", False) in imported_names(ROOT / "pipeline/training.py")
    assert "pipeline/datasets/sources/text.py" in imported_files("stages.download")  # by name


# --- what the stages really load ---------------------------------------------------------------

RUN_STAGE = f"""
import json, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_module(sys.argv[0], run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
ours = [m for n, m in list(sys.modules.items()) if n.split(".")[0] in {set(PACKAGES)}]
print(json.dumps([getattr(m, "__file__", None) for m in ours]))
"""


def run_stage(project: Path, *args: str) -> set[str]:
    """Run `python -m <args>` in a fresh interpreter in `project`; the project files it loaded."""
    env = {**subprocess_env(), "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("DVC_ROOT", None)  # the stages find the temporary project's root (and store) themselves
    done = subprocess.run(
        [sys.executable, "-c", RUN_STAGE, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    return {str(Path(file).relative_to(ROOT)) for file in loaded if file}


@pytest.fixture(scope="module")
def iris_project(tmp_path_factory) -> tuple[Path, dict[str, set[str]]]:
    """iris with a Keras (2 epochs) and a scikit-learn experiment, downloaded and preprocessed; what
    `download` and `preprocess` loaded."""
    project = tmp_path_factory.mktemp("iris")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    experiments = {
        "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn"},
        "iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"},
    }
    shrink_params(params, experiments, epochs=2)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    (project / ".dvc").mkdir()  # the project root: its tracking store goes there
    return project, {
        stage: run_stage(project, f"stages.{stage}", "iris") for stage in ("download", "preprocess")
    }


def unlisted(stage: str, loaded: set[str], backend: str | None = None) -> list[str]:
    """What `stage` loaded that its dvc.yaml deps do not cover."""
    _, deps, _ = pipeline_stages()[stage]
    return uncovered({file for file in loaded if _matters(file)}, resolve(deps, backend))


@pytest.mark.e2e
def test_what_download_and_preprocess_load_is_listed_in_their_deps(iris_project):
    _, loaded = iris_project
    for stage in ("download", "preprocess"):
        missing = unlisted(stage, loaded[stage])
        assert not missing, f"{stage}@iris loaded these, not in its dvc.yaml deps: {missing}"


@pytest.mark.e2e
@pytest.mark.parametrize(("experiment", "backend"), [("iris-dnn", "keras"), ("iris-logreg", "sklearn")])
def test_what_train_and_evaluate_load_is_listed_in_their_deps(iris_project, experiment, backend):
    project, _ = iris_project
    for stage in ("train", "evaluate"):
        missing = unlisted(stage, run_stage(project, f"stages.{stage}", experiment), backend)
        assert not missing, f"{stage}@{experiment} loaded these, not in its dvc.yaml deps: {missing}"
