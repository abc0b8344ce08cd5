"""The MLflow UI in headless Chromium, as docs/tracking.md tells a first-time user to use it.

The project's links open an experiment's runs in the Model-training view (not MLflow 3's GenAI view),
the runs table shows each run's test metric and Source, and ticking runs + *Compare* shows params
against metrics. Screenshots land in the test's tmp dir. Needs Debian's `chromium` (.ci/run installs it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.tracking import runs
from pipeline.tracking.ui_links import experiment_link
from tests.test_tracking import make_experiment

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POINTS = {"0.1": 0.8, "1.0": 0.85, "10.0": 0.9}  # C -> test accuracy


@pytest.fixture
def page(tmp_path: Path) -> Iterator:
    """A page of a fresh Chromium profile: no saved MLflow view, like a first-time visitor."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: apt-get install chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver, tempfile.TemporaryDirectory() as profile:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=FLAGS, viewport={"width": 1600, "height": 1000}
        )
        context.set_default_timeout(30_000)
        yield context.new_page()
        context.close()


def seed_runs(monkeypatch: pytest.MonkeyPatch, uri: str) -> dict:
    """Three train + evaluate runs of one MLflow experiment, one per C; the last run's run.json record."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for c, accuracy in POINTS.items():
        experiment = make_experiment(f"ui{c.replace('.', '_')}-logreg")
        settings = experiment.mlflow.model_copy(update={"experiment_prefix": "ui-"})
        experiment = experiment.model_copy(update={"mlflow": settings})
        with runs.run(experiment, stage=f"train@{experiment.name}") as run:
            run.log_params({"model": {"C": c}})
        with runs.run(experiment, stage=f"evaluate@{experiment.name}", run_id=run.run_id) as run:
            run.log_metrics({"test": {"accuracy": accuracy}})
    return run.record()


def assert_on_the_runs(page, experiment_id: str) -> None:
    page.get_by_role("link", name="ui0_1-logreg").wait_for()
    assert f"#/experiments/{experiment_id}/runs" in page.url and "workflowType=machine_learning" in page.url
    assert_training_view(page)


def assert_training_view(page) -> None:
    body = page.inner_text("body")
    assert "Observability" not in body and "No data available" not in body, body[:500]  # GenAI's


def test_a_first_time_browser_lands_on_runs_and_compares_them(page, mlflow_server, monkeypatch, tmp_path):
    record = seed_runs(monkeypatch, mlflow_server)
    experiment_id = record["experiment_id"]

    # a run's link (run.json, the leaderboard's run column)
    page.goto(record["url"])
    page.get_by_text("Model metrics").first.wait_for()
    assert_training_view(page)

    # the leaderboard's link to a data set's runs
    page.goto(experiment_link(record))
    assert_on_the_runs(page, experiment_id)
    page.screenshot(path=tmp_path / "runs.png")
    assert "train@ui1_0-logreg" in page.inner_text("body")  # the Source column

    # docs/tracking.md's way from MLflow's own front page: switch to Model training, pick the experiment
    page.evaluate("localStorage.clear()")
    page.goto(mlflow_server)
    page.get_by_text("Model training", exact=True).click()
    page.get_by_role("link", name="Experiments").first.click()
    page.get_by_role("link", name="ui-toy").first.click()
    assert_on_the_runs(page, experiment_id)

    # Columns -> the test metric: the table shows it per run
    page.get_by_role("button", name="Close").first.click()  # the Assistant panel takes half the width
    page.get_by_role("button", name="Columns").click()
    page.get_by_text("test_accuracy", exact=True).last.click()
    page.keyboard.press("Escape")
    page.get_by_role("columnheader", name="test_accuracy").first.wait_for()
    page.screenshot(path=tmp_path / "runs-with-metric.png")
    table = page.inner_text("body")
    assert all(f"{accuracy}" in table for accuracy in POINTS.values()), table

    # tick the runs, press Compare: params against metrics
    for name in ("ui0_1-logreg", "ui10_0-logreg"):
        page.get_by_role("row").filter(has_text=name).locator(".ag-checkbox-input").check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/compare-runs**")
    page.get_by_text("test_accuracy").first.wait_for()
    page.screenshot(path=tmp_path / "compare.png", full_page=True)
    compare = page.inner_text("body")
    assert "model.C" in compare and "test_accuracy" in compare, compare
