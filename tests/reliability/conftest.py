"""Fixtures of the fault tests: a project folder with processed data (per test module)."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import pytest

from stages import download as download_stage
from stages import preprocess as preprocess_stage
from tests.conftest import in_process
from tests.reliability.faults import PAIRINGS, PARAMS, write_params


@pytest.fixture(scope="module")
def processed_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris and sunspots downloaded and preprocessed; params with the impossible pairings."""
    root = tmp_path_factory.mktemp("processed-project")
    params = copy.deepcopy(PARAMS)
    params["experiments"].update({name: spec for name, (spec, _) in PAIRINGS.items()})
    write_params(root / "params.yaml", params)
    with contextlib.chdir(root):
        for dataset in ("iris", "sunspots"):
            for main in (download_stage.main, preprocess_stage.main):
                assert in_process(main, [dataset])[0] == 0
    return root
