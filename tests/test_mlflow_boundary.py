"""MLflow is imported only inside pipeline/tracking/: every other module reaches it through tracking."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

CODE = ("pipeline", "stages", "bench")
TRACKING = ROOT / "pipeline" / "tracking"


def imported_modules(tree: ast.AST) -> Iterator[str]:
    """Every module `tree` imports, at top level or inside a function, including by importlib and
    in a program it carries as a string (e.g. a probe script written out and run)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.args[0].value
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "import" in node.value:
            try:
                yield from imported_modules(ast.parse(node.value))
            except SyntaxError:  # prose, not a program
                continue


def mlflow_imports(path: Path) -> list[str]:
    modules = imported_modules(ast.parse(path.read_text(), filename=str(path)))
    return sorted({name for name in modules if name == "mlflow" or name.startswith("mlflow.")})


def test_only_the_tracking_package_imports_mlflow() -> None:
    found = {
        str(path.relative_to(ROOT)): names
        for top in CODE
        for path in sorted((ROOT / top).rglob("*.py"))
        if not path.is_relative_to(TRACKING) and (names := mlflow_imports(path))
    }
    assert found == {}, f"import mlflow only in pipeline/tracking/; call a tracking function instead: {found}"


def test_the_check_sees_imports_inside_functions_importlib_and_embedded_programs(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "import importlib\n"
        "def f():\n    from mlflow.entities import Metric\n"
        "def g():\n    return importlib.import_module('mlflow.keras')\n"
        "PROBE = '''import json\\nimport mlflow  # timed\\n'''\n"
        "DOC = 'prose that says import mlflow, not a program'\n"
    )
    assert mlflow_imports(module) == ["mlflow", "mlflow.entities", "mlflow.keras"]
