"""A throw-away git + DVC copy of the project: what tests and benchmarks run `dvc repro` in.

It lives with the project's tooling, not in tests/ or bench/, because both use it: a copy holds the
code and pipeline files only (no data, outputs, MLflow store or caches), so a run in it never
touches the workspace. No stage imports this module.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from pipeline.core.errors import PipelineError
from pipeline.workflow.environment import child_env

log = logging.getLogger("pipeline.workflow.project_copy")

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = (
    "pipeline",
    "stages",
    "dvc.yaml",
    "params.yaml",
    "schemas",
    ".dvcignore",
    ".gitignore",
    "pyproject.toml",
    "uv.lock",
)
# a suite: a DVC project
SUITE_FILES = ("params.yaml", ".dvcignore", ".dvc/config", ".dvc/.gitignore", "schemas/README.md")
SUITE_LINKS = ("dvc.yaml", "pipeline", "stages", "uv.lock")  # ... whose pipeline and code are the root's
# tracked by the suite's stages, taken from the root if missing
SUITE_SECTIONS = ("mlflow", "promote", "validate")
ParamsEdit = Callable[[dict], None]


def copy_files(destination: Path) -> None:
    """The project's code and pipeline files into `destination` (no data, outputs, store or caches)."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, destination / name)


def edit_yaml(path: Path, edit: ParamsEdit) -> None:
    document = yaml.safe_load(path.read_text())
    edit(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def make(
    destination: Path,
    *,
    edit_params: ParamsEdit | None = None,
    suite: str | None = None,
    edit_suite_params: ParamsEdit | None = None,
) -> Path:
    """A git + DVC copy of the project in `destination`, params.yaml passed through `edit_params`.

    `suite` (e.g. "fashion") also copies that suite: its params.yaml and DVC project files, and its
    links to the root's dvc.yaml and code.
    """
    copy_files(destination)
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
    init_repo(destination)
    return destination


def init_repo(folder: Path) -> None:
    """Make `folder` a git + DVC project with all its files committed. DVC's analytics and update check
    are off: both start background processes that would compete for the CPU."""
    env = child_env(isolated=True, project=folder)
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "config", "user.email", "copy@example.com"],
        ["git", "config", "user.name", "project copy"],
        ["dvc", "init", "-q"],
        ["dvc", "config", "core.analytics", "false"],
        ["dvc", "config", "core.check_update", "false"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "project copy"],
    ):
        result = subprocess.run(cmd, cwd=folder, env=env, text=True, capture_output=True)
        if result.returncode != 0:
            raise PipelineError(
                f"`{' '.join(cmd)}` in {folder} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )


def _suite_editor(project: Path, edit: ParamsEdit | None) -> ParamsEdit:
    """The suite's params edit, after adding sections its stages track but the file lacks.

    `promote` tracks the `mlflow` section; a suite params file without it stops `dvc repro` at promote
    ("Parameters 'mlflow' are missing"), so the copy takes the root's section (the values stages use).
    """
    root_params = yaml.safe_load((project / "params.yaml").read_text())

    def apply(params: dict) -> None:
        for section in SUITE_SECTIONS:
            if section not in params and section in root_params:
                log.warning("suite params lack `%s`: the copy uses params.yaml's", section)
                params[section] = root_params[section]
        if edit is not None:
            edit(params)

    return apply
