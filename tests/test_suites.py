"""The DVC pipeline files agree with their params files; the suites are DVC projects of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("fashion", "mnist", "cifar", "text", "co2")
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
def test_a_suite_is_a_dvc_project_running_the_root_pipeline_and_code(suite):
    folder = ROOT / suite
    assert (folder / ".dvc" / "config").is_file(), f"not a DVC project: cd {suite} && dvc init --subdir"
    for name in ("dvc.yaml", "pipeline", "stages", "uv.lock"):
        assert (folder / name).is_symlink() and (folder / name).resolve() == ROOT / name, (
            f"{suite}/{name} must link to the root's: ln -s ../{name} {suite}/{name}"
        )


def test_the_root_project_sees_only_the_default_pipeline_and_a_suite_only_its_own():
    from dvc.repo import Repo

    with Repo(str(ROOT)) as root:
        root_files = {stage.dvcfile.path for stage in root.index.stages}
    assert root_files == {str(ROOT / "dvc.yaml")}
    suite_params = load(ROOT / "fashion" / "params.yaml")
    with Repo(str(ROOT / "fashion")) as suite:
        names = {stage.name for stage in suite.index.stages}
        pycache = ROOT / "fashion" / "pipeline" / "backends" / "keras" / "__pycache__"
        assert suite.dvcignore.is_ignored_dir(str(pycache)), "bytecode would count as a code change"
    assert names >= {f"train@{name}" for name in suite_params["experiments"]}


def produced(path: Path, outs: set[Path], written: set[Path]) -> bool:
    """True when stages write `path`: it is, holds or lies inside an output; a fingerprint file must be
    one the `fingerprint` stage writes (its output is the whole folder)."""
    if path.parent.name == "fingerprints":
        return path in written
    return any(path == out or out in path.parents or path in out.parents for out in outs)


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_dependency_is_a_project_file_or_written_by_a_stage(pipeline):
    """Each generated stage of the project finds its deps: code and params.yaml in the project (for a
    suite, through its links), data and fingerprints as outputs of earlier stages."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    from pipeline.workflow import fingerprints

    with Repo(str(pipeline.parent)) as repo:
        stages = list(repo.index.stages)
    project = pipeline.parent
    fingerprint = next(stage for stage in stages if stage.name == "fingerprint")
    names = fingerprints.texts(fingerprint.cmd.split()[3:])
    written = {project / "fingerprints" / f"{name}.txt" for name in names}
    for stage in stages:
        outs = {Path(out.fs_path) for other in stages if other is not stage for out in other.outs}
        for dep in stage.deps:
            path = Path(dep.fs_path)
            assert isinstance(dep, ParamsDependency) or produced(path, outs, written) or path.exists(), (
                f"{stage.addressing}: dependency {dep.def_path} is neither in {project.relative_to(ROOT)}/ "
                "nor written by a stage"
            )
