"""The `team_stack` fixture: scripts/services' PostgreSQL, S3 store and MLflow server (with login).

A throw-away stack on free ports in a fresh state folder, stopped and deleted at the end of the session;
or, when SERVICES_STATE_DIR is set (`make test STACK=1`), that stack, brought up if needed and left
running.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.workflow import team_stack as stack
from pipeline.workflow.team_stack import Stack


@pytest.fixture(scope="session")
def team_stack() -> Iterator[Stack]:
    shared = os.environ.get("SERVICES_STATE_DIR")
    with stack.running(Path(tempfile.gettempdir()), Path(shared) if shared else None) as running:
        yield running
