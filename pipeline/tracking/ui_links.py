"""Links into the MLflow UI that open its model-training view (no mlflow import: the report uses them).

MLflow 3.17's UI has no server-side default for its view: a browser that has not chosen one opens every
experiment in the GenAI view (traces, token usage), whatever the experiment's tags say. A link whose
hash route carries `?workflowType=machine_learning` opens the Model-training view (Runs, Models).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UI_VIEW = "workflowType=machine_learning"
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default


def ui_url(base: str, route: str = "experiments") -> str:
    """`<base>/#/<route>?workflowType=machine_learning`."""
    return f"{base.rstrip('/')}/#/{route}?{UI_VIEW}"


def experiment_link(record: Mapping[str, Any]) -> str | None:
    """The link to the runs of a run.json record's MLflow experiment.

    A SQLite store has no server: the link is `mlflow ui`'s default address.
    """
    if not record.get("experiment_id"):
        return None
    url = record.get("url")
    base = url.split("/#/", 1)[0] if url else LOCAL_UI
    return ui_url(base, f"experiments/{record['experiment_id']}/runs")
