"""Every output of dvc.yaml reaches a second machine: a cached one through the DVC remote, one DVC does
not cache (`cache: false`) through git. So a fresh clone with dvc.lock, after `dvc pull`, runs no
stage (tests/test_team_e2e.py proves it on the team stack). The suites share the root's dvc.yaml."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SUITES = sorted(path.parent.name for path in ROOT.glob("*/dvc.yaml"))
OUTPUT_KINDS = ("outs", "metrics", "plots")


def outputs() -> list[tuple[str, dict]]:
    """(path, its options) of every output in dvc.yaml, a foreach stage's with the key `x`."""
    found = []
    for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values():
        body = stage.get("do", stage)
        for kind in OUTPUT_KINDS:
            for out in body.get(kind, []):
                path, options = next(iter(out.items())) if isinstance(out, dict) else (out, None)
                found.append((path.replace("${key}", "x"), options or {}))
    return found


def git_ignored(path: str) -> bool:
    result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    assert result.returncode in (0, 1), f"git check-ignore {path} failed"
    return result.returncode == 0


UNCACHED = [path for path, options in outputs() if options.get("cache") is False]


def test_the_audit_sees_the_outputs_dvc_does_not_cache():
    assert UNCACHED == ["sources", "reports/promotion.json"]


@pytest.mark.parametrize("folder", ["", *(f"{suite}/" for suite in SUITES)])
@pytest.mark.parametrize("path", UNCACHED)
def test_an_output_dvc_does_not_cache_is_kept_in_git(folder, path):
    """Git-ignored, it would reach no other machine: its stage would run again on every clone."""
    assert not git_ignored(f"{folder}{path}") and not git_ignored(f"{folder}{path}/x")


def test_a_persistent_output_is_cached():
    """DVC's run-cache leaves out a stage with a `persist` output: dvc.lock and `dvc pull` restore it."""
    persistent = [(path, options) for path, options in outputs() if options.get("persist")]
    assert persistent and all(options.get("cache", True) for _, options in persistent)
