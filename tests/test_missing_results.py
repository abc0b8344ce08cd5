"""report, promote and backfill on a project where an experiment never ran: one line naming the stage."""

from __future__ import annotations

import contextlib
import re

import pytest
import yaml

from stages import backfill, promote, report
from tests.conftest import ROOT, in_process


@pytest.mark.parametrize("stage", [report, promote, backfill], ids=lambda stage: stage.__name__)
def test_a_missing_result_is_one_line_naming_the_stage_to_run(stage, tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["experiments"] = {"digits-logreg": params["experiments"]["digits-logreg"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with contextlib.chdir(tmp_path):
        if stage is backfill:  # it reads results only of what evaluate finished
            (tmp_path / "results/digits-logreg").mkdir(parents=True)
            (tmp_path / "results/digits-logreg/details.json").write_text("{}")
        code, records = in_process(stage.main, [])
    assert code == 2
    [message] = [record.getMessage() for record in records]
    expected = r"results/digits-logreg/(train|run)\.json not found: run `dvc repro train@digits-logreg` first"
    assert re.fullmatch(expected, message)
    assert not (tmp_path / "reports").exists()
