"""The layout the code relies on: every source file in git, a library that changes nothing on import."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT, subprocess_env

CODE = ("pipeline", "stages", "tests", "bench")


def test_no_source_file_is_git_ignored():
    """An ignore pattern for an output folder (models/, data/) must not swallow a code folder."""
    sources = [str(path.relative_to(ROOT)) for top in CODE for path in (ROOT / top).rglob("*.py")]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *sources], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert [path for path in ignored if "__pycache__" not in path] == []


def test_importing_the_library_leaves_the_environment_alone():
    """Every module but the backends; the libraries that set variables of their own when imported
    (scikit-learn, TensorFlow) are imported before the snapshot."""
    env = {key: value for key, value in subprocess_env().items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    program = (
        "import os, pkgutil, importlib, sklearn, mlflow; before = dict(os.environ); import pipeline\n"
        "for module in pkgutil.walk_packages(pipeline.__path__, 'pipeline.'):\n"
        "    if not module.name.startswith('pipeline.backends.'):\n"
        "        importlib.import_module(module.name)\n"
        "print(sorted(set(os.environ.items()) ^ set(before.items())))"
    )
    changed = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "[]"


def test_a_stage_chooses_tensorflows_log_level():
    env = {key: value for key, value in subprocess_env().items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    program = "import os, stages; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    level = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True)
    assert level.stdout.strip() in ("1", "3"), level.stderr


def test_no_module_is_named_after_the_standard_library():
    """`pipeline/io.py` once shadowed `io` for code run from inside the package folder."""
    names = {path.stem for top in ("pipeline", "stages") for path in (ROOT / top).rglob("*.py")}
    assert names & set(sys.stdlib_module_names) == set()


# pipeline/'s packages from the bottom up: a package imports only from its own and lower ranks
LAYERS = {
    "core": 0,
    "config": 1,
    "datasets": 2,
    "backends": 3,
    "models": 4,
    "evaluation": 5,
    "tracking": 5,
    "decisions": 6,
    "workflow": 7,
    "tuning": 8,
}


def _imported_packages(path):
    """The pipeline packages a module imports, at any depth of its code (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found |= {name.split(".")[1] for name in names if name.startswith("pipeline.") and name.count(".")}
    return found & set(LAYERS)


def test_every_package_of_the_library_has_a_layer():
    packages = {path.parent.name for path in (ROOT / "pipeline").glob("*/__init__.py")}
    assert packages == set(LAYERS)


def test_packages_import_only_their_own_layer_or_those_below():
    upward = []
    for path in sorted((ROOT / "pipeline").glob("*/**/*.py")):
        package = path.relative_to(ROOT / "pipeline").parts[0]
        for imported in _imported_packages(path):
            if imported != package and LAYERS[imported] >= LAYERS[package]:
                upward.append(f"{path.relative_to(ROOT)} imports pipeline.{imported}")
    assert upward == []
