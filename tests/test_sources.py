"""The `sources` stage: an edit of a data set's local files re-runs exactly its chain, a no-op nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from bench.common import executed_stages
from pipeline.datasets import stamps
from pipeline.errors import PipelineError
from tests.conftest import ROOT, make_project, run, shrink_params, subprocess_env

CSV_ROWS = "".join(f"{i % 7},{(i * 3) % 11},{'yes' if i % 2 else 'no'}\n" for i in range(60))


def entries(folder: Path) -> dict[str, str | bytes]:
    return {p.name: str(p.readlink()) if p.is_symlink() else p.read_bytes() for p in folder.iterdir()}


def test_local_files_become_links_and_other_sources_stamps(tmp_path):
    (tmp_path / "table.csv").write_text("a,label\n1,x\n")
    (tmp_path / "docs").mkdir()
    params = {
        "datasets": {
            "table": {"source": "csv", "path": str(tmp_path / "table.csv")},
            "by_url": {"source": "csv", "path": (tmp_path / "table.csv").as_uri()},
            "remote": {"source": "csv", "path": "https://example.com/t.csv"},
            "docs": {"source": "text", "path": str(tmp_path / "docs")},
            "iris": {"source": "sklearn", "name": "iris"},
            "gone": {"source": "csv", "path": str(tmp_path / "gone.csv")},
        }
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    datasets = stamps.read_datasets(tmp_path / "params.yaml")
    out = tmp_path / "sources"
    stamps.write(out, datasets)
    assert (out / "table").readlink() == tmp_path / "table.csv"
    assert (out / "by_url").readlink() == tmp_path / "table.csv"
    assert (out / "docs").readlink() == tmp_path / "docs"
    assert json.loads((out / "remote").read_text()) == {"source": "csv"}
    assert json.loads((out / "iris").read_text()) == {"source": "sklearn"}
    assert json.loads((out / "gone").read_text())["missing"] == str(tmp_path / "gone.csv")
    before = entries(out)
    stamps.write(out, datasets)  # rewritten in place: byte-identical, so nothing downstream re-runs
    assert entries(out) == before


def test_a_params_file_without_datasets_is_named(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    with pytest.raises(PipelineError, match="has no `datasets:` mapping"):
        stamps.read_datasets(tmp_path / "params.yaml")


def test_the_stage_imports_no_validation_library(tmp_path):
    """It runs on every `dvc repro`: pydantic's models alone cost ~0.2 s to build."""
    probe = (
        "import sys, runpy; runpy.run_module('stages.sources', run_name='__main__'); "
        "print(sorted({'pydantic', 'numpy', 'pandas'} & set(sys.modules)))"
    )
    (tmp_path / "params.yaml").write_text("datasets: {iris: {source: sklearn, name: iris}}\n")
    result = run([sys.executable, "-c", probe], tmp_path, env={**subprocess_env(), "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip() == "[]" and (tmp_path / "sources" / "iris").exists()


def with_csv_dataset(params: dict) -> None:
    """iris and a small CSV of the project's own, one scikit-learn experiment each."""
    params["datasets"]["table"] = {"source": "csv", "path": "data/external/table.csv", "target": "label"}
    shrink_params(
        params,
        {
            "iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"},
            "table-logreg": {"dataset": "table", "backend": "sklearn", "model": "logreg"},
        },
    )


def reran(project: Path) -> list[str]:
    """The stages a `dvc repro` ran besides `sources`, which runs every time."""
    return [name for name in executed_stages(run(["dvc", "repro"], project).stdout) if name != "sources"]


@pytest.mark.e2e
def test_editing_a_local_csv_reruns_exactly_its_chain(tmp_path):
    project = tmp_path / "project"
    table = project / "data" / "external" / "table.csv"
    table.parent.mkdir(parents=True)
    table.write_text("a,b,label\n" + CSV_ROWS)
    make_project(project, with_csv_dataset)
    run(["dvc", "repro"], project)
    assert reran(project) == []  # a no-op stays one

    table.write_text("a,b,label\n" + CSV_ROWS.replace("0,0,no", "5,0,no", 1))
    stale = set(json.loads(run(["dvc", "status", "--json"], project).stdout))
    assert "download@table" in stale and not any("iris" in name for name in stale)
    chain = ["download@table", "preprocess@table", "train@table-logreg", "evaluate@table-logreg"]
    assert sorted(reran(project)) == sorted([*chain, "report", "promote"])
    assert reran(project) == []
