"""The DVC pipeline files agree with their params files and with each other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("fashion", "mnist", "cifar", "text")
PIPELINES = (ROOT / "dvc.yaml", *(ROOT / suite / "dvc.yaml" for suite in SUITES))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def resolve(template: str, key: str, item: dict) -> str:
    """DVC's `${key}` / `${item.x}` interpolation for one foreach entry."""
    text = template.replace("${key}", key)
    return re.sub(r"\$\{item\.(\w+)\}", lambda m: str(item[m.group(1)]), text)


def param_keys(pipeline: Path):
    """(stage, dotted params key) for every generated stage of a dvc.yaml."""
    params = load(pipeline.parent / "params.yaml")
    for name, stage in load(pipeline)["stages"].items():
        if "foreach" in stage:
            section = stage["foreach"].strip("${}")
            for key, item in params[section].items():
                for entry in stage["do"].get("params", []):
                    yield f"{name}@{key}", resolve(entry, key, item)
        else:
            for entry in stage.get("params", []):
                yield name, entry


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_tracked_param_exists(pipeline):
    params = load(pipeline.parent / "params.yaml")
    for stage, dotted in param_keys(pipeline):
        node = params
        for part in dotted.split("."):
            assert isinstance(node, dict) and part in node, (
                f"{stage} tracks {dotted}, missing from params.yaml"
            )
            node = node[part]


@pytest.mark.parametrize("suite", SUITES)
def test_suite_stages_match_the_root_pipeline(suite):
    root_text = yaml.safe_dump(load(ROOT / "dvc.yaml"))
    expected = re.sub(r"(\n\s*- )((?:stages|pipeline)/)", r"\1../\2", root_text)
    assert yaml.safe_dump(load(ROOT / suite / "dvc.yaml")) == expected


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_dependencies_exist(pipeline):
    for stage in load(pipeline)["stages"].values():
        body = stage.get("do", stage)
        for dep in body.get("deps", []):
            if "${" not in dep and dep.startswith(("../", "stages/", "pipeline/")):
                assert (pipeline.parent / dep).exists(), f"{pipeline}: dependency {dep} does not exist"
