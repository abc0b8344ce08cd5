"""The `sources` stage: an edit of a data set's local files re-runs exactly its chain, a no-op nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import config
from pipeline.core.errors import PipelineError
from pipeline.datasets import stamps
from pipeline.workflow.dvc_log import executed_stages
from tests.conftest import make_project, run, shrink_params

CSV_ROWS = "".join(f"{i % 7},{(i * 3) % 11},{'yes' if i % 2 else 'no'}\n" for i in range(60))


def csv_config(path: str, **fields) -> config.CsvSource:
    return config.CsvSource(source="csv", path=path, target="label", **fields)


def entries(folder: Path) -> dict[str, str | bytes]:
    return {p.name: str(p.readlink()) if p.is_symlink() else p.read_bytes() for p in folder.iterdir()}


def test_local_files_become_links_and_other_sources_stamps(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the project root
    Path("table.csv").write_text("a,label\n1,x\n")
    Path("docs").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    outside.write_text("a,label\n1,x\n")
    datasets = {
        "table": csv_config("table.csv"),
        "by_url": csv_config((tmp_path / "table.csv").as_uri()),
        "outside": csv_config(str(outside)),
        "remote": csv_config("https://example.com/t.csv", sha256="0" * 64),
        "docs": config.TextSource(source="text", path="docs", format="folders"),
        "iris": config.SklearnSource(source="sklearn", name="iris"),
    }
    out = Path("sources")
    stamps.write(out, datasets)
    assert entries(out) == {
        "table": "../table.csv",  # relative inside the project: a moved copy keeps its links
        "by_url": "../table.csv",
        "outside": str(outside),
        "docs": "../docs",
        "remote": b'{"source": "csv"}\n',
        "iris": b'{"source": "sklearn"}\n',
    }
    stamps.write(out, datasets)  # rewritten: byte-identical, so nothing downstream re-runs
    assert entries(out)["iris"] == b'{"source": "sklearn"}\n'


def test_a_missing_local_file_is_named(tmp_path):
    fortunes = config.TextSource(
        source="text", path=str(tmp_path / "none"), format="fortune", package="fortunes"
    )
    with pytest.raises(PipelineError, match=r"datasets.jokes.path: .*none does not exist; install it with"):
        stamps.write(tmp_path / "sources", {"jokes": fortunes})


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


def repro(project: Path) -> list[str]:
    """The stages a `dvc repro` ran."""
    return executed_stages(run(["dvc", "repro"], project).stdout)


@pytest.mark.e2e
def test_editing_a_local_csv_reruns_exactly_its_chain(tmp_path):
    project = tmp_path / "project"
    table = project / "data" / "external" / "table.csv"
    table.parent.mkdir(parents=True)
    table.write_text("a,b,label\n" + CSV_ROWS)
    make_project(project, with_csv_dataset)
    run(["dvc", "repro"], project)
    # validate@table wrote schemas/table.yaml into the folder every validate@ depends on: the others
    # check again, once, with byte-identical reports (nothing after them runs)
    assert {stage.split("@")[0] for stage in repro(project)} <= {"validate"}
    assert repro(project) == []  # a no-op stays one

    table.write_text("a,b,label\n" + CSV_ROWS.replace("0,0,no", "5,0,no", 1))
    stale = set(json.loads(run(["dvc", "status", "--json"], project).stdout))
    assert stale == {"sources", "download@table"}  # the link's target changed: both see it
    chain = [
        "download@table",
        "validate@table",
        "preprocess@table",
        "train@table-logreg",
        "evaluate@table-logreg",
    ]
    assert sorted(repro(project)) == sorted(["sources", *chain, "report", "promote"])
    assert repro(project) == []
    assert run(["dvc", "status", "--json"], project).stdout.strip() == "{}"
