"""pyproject.toml's runtime dependencies are what the pipeline imports: a package only the tests use
belongs in the dev group, so `uv sync --no-dev` stays lean."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions

from pipeline.workflow.fingerprints import PACKAGES
from tests.conftest import ROOT

NOT_IMPORTED = {
    "dvc": "runs the stages",
    "pip": "MLflow records its version in each logged model",
    "pyarrow": "pandas reads and writes parquet tables with it",
    "psycopg2-binary": "SQLAlchemy's PostgreSQL driver (postgresql:// URLs of `sql` sources)",
    "dvc-s3": "DVC's S3 remote (the team stack's bucket, or a team's S3)",
    "boto3": "MLflow's S3 artifact store (the team server's --artifacts-destination)",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions() -> set[str]:
    """The distributions whose modules pipeline/ and stages/ import (at any depth of the code)."""
    modules = set()
    for path in (file for package in PACKAGES for file in (ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    providers = packages_distributions()
    return {canonical(dist) for module in modules for dist in providers.get(module, [])}


def test_every_runtime_dependency_is_imported_by_the_pipeline():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {canonical(re.match(r"[A-Za-z0-9_.-]+", spec).group(0)) for spec in declared}
    unused = names - imported_distributions() - set(NOT_IMPORTED)
    assert not unused, f"only tests use {sorted(unused)}: move them to the dev group (uv add --dev)"
