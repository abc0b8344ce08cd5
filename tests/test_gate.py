"""The retrain gate: regressions beyond tolerance fail, everything else passes, and the table says why."""

from __future__ import annotations

import math

import pytest

from pipeline import config
from pipeline.core import metrics
from pipeline.decisions import gate

GATE = config.Gate(tolerance={"accuracy": 0.02}, relative_tolerance={"rmse": 0.05})


def verdicts(result: gate.Result) -> dict[tuple[str, str], str]:
    return {(check.experiment, check.metric): check.verdict for check in result.checks}


@pytest.mark.parametrize(
    ("baseline", "current", "verdict"),
    [
        (0.95, 0.90, gate.REGRESSED),  # 0.05 worse, 0.02 allowed
        (0.95, 0.94, gate.WITHIN),
        (0.95, 0.93, gate.WITHIN),  # exactly the tolerance (up to float noise) still passes
        (0.95, 0.95, gate.SAME),
        (0.90, 0.97, gate.BETTER),
        (0.95, math.nan, gate.REGRESSED),
        (math.nan, 0.5, gate.NEW),
    ],
)
def test_higher_is_better_scores(baseline, current, verdict):
    result = gate.compare({"e": {"accuracy": baseline}}, {"e": {"accuracy": current}}, GATE)
    assert verdicts(result) == {("e", "accuracy"): verdict}
    assert result.passed is (verdict not in gate.FAILING)


@pytest.mark.parametrize(
    ("baseline", "current", "verdict"),
    [
        (20.0, 21.5, gate.REGRESSED),  # 7.5 % worse, 5 % allowed
        (20.0, 20.9, gate.WITHIN),
        (20.0, 18.0, gate.BETTER),  # lower is better for errors
        (0.2, 0.2, gate.SAME),
    ],
)
def test_lower_is_better_errors_with_a_relative_tolerance(baseline, current, verdict):
    result = gate.compare({"e": {"rmse": baseline}}, {"e": {"rmse": current}}, GATE)
    assert verdicts(result) == {("e", "rmse"): verdict}


def test_relative_tolerance_scales_with_the_baseline():
    (check,) = gate.compare({"e": {"rmse": 0.2}}, {"e": {"rmse": 0.205}}, GATE).checks
    assert check.allowed == pytest.approx(0.01) and check.verdict == gate.WITHIN
    (check,) = gate.compare({"e": {"rmse": 0.2}}, {"e": {"rmse": 0.3}}, GATE).checks
    assert check.failed


def test_new_experiments_and_new_metrics_pass():
    result = gate.compare(
        {"old": {"accuracy": 0.9}},
        {"old": {"accuracy": 0.9, "rmse": 3.0}, "brand-new": {"accuracy": 0.1}},
        GATE,
    )
    assert verdicts(result) == {
        ("brand-new", "accuracy"): gate.NEW,
        ("old", "accuracy"): gate.SAME,
        ("old", "rmse"): gate.NEW,
    }
    assert result.passed


def test_a_tracked_metric_that_disappeared_fails():
    result = gate.compare({"e": {"accuracy": 0.9}}, {"e": {}}, GATE)
    assert verdicts(result) == {("e", "accuracy"): gate.MISSING}
    assert not result.passed


def test_untracked_metrics_and_removed_experiments_are_not_compared():
    result = gate.compare(
        {"e": {"accuracy": 0.9, "n_samples": 30}, "removed": {"accuracy": 0.99}},
        {"e": {"accuracy": 0.9, "n_samples": 10}},
        GATE,
    )
    assert list(verdicts(result)) == [("e", "accuracy")]


def test_one_regression_fails_the_whole_gate():
    result = gate.compare(
        {"a": {"accuracy": 0.9}, "b": {"accuracy": 0.9}},
        {"a": {"accuracy": 0.99}, "b": {"accuracy": 0.5}},
        GATE,
    )
    assert not result.passed
    assert [(check.experiment, check.metric) for check in result.failures] == [("b", "accuracy")]


def test_the_table_shows_every_compared_metric_and_names_the_regression():
    result = gate.compare(
        {"iris-logreg": {"accuracy": 0.9333}, "sunspots-ridge": {"rmse": 19.85}},
        {"iris-logreg": {"accuracy": 0.3333}, "sunspots-ridge": {"rmse": 19.0}, "new-one": {"rmse": 1.0}},
        GATE,
    )
    table = gate.render(result)
    lines = table.splitlines()
    assert lines[0] == "| experiment | metric | better | baseline | current | change | tolerance | verdict |"
    assert "| iris-logreg | accuracy | higher | 0.9333 | 0.3333 | -0.6 | 0.02 | **REGRESSED** |" in lines
    assert "| sunspots-ridge | rmse | lower | 19.85 | 19 | -0.85 | 0.05 x baseline | better |" in lines
    assert "| new-one | rmse | lower | - | 1 | - | 0.05 x baseline | new |" in lines
    assert lines[-1] == (
        "gate FAILED: 1 of 3 tracked metric(s) got worse than their tolerance: iris-logreg accuracy"
    )


def test_the_summary_of_a_pass():
    result = gate.compare({"e": {"accuracy": 0.9}}, {"e": {"accuracy": 0.91}, "f": {"accuracy": 0.5}}, GATE)
    assert (
        result.summary() == "gate passed: 2 tracked metric(s) compared (1 new), none worse than its tolerance"
    )


def test_nothing_tracked_says_how_to_track():
    result = gate.compare({}, {"e": {"accuracy": 0.9}}, config.Gate())
    assert result.passed and "gate.tolerance" in gate.render(result)


def test_a_metric_cannot_have_both_tolerances():
    with pytest.raises(ValueError, match="rmse: give either tolerance or relative_tolerance"):
        config.Gate(tolerance={"rmse": 1.0}, relative_tolerance={"rmse": 0.1})


def test_committed_params_gate_every_task():
    params = config.load(config.DEFAULT_PARAMS)
    tracked = set(gate.tracked_metrics(params.gate))
    assert set(params.promote.metrics.values()) <= tracked  # what promote ranks by is never let slide


@pytest.mark.parametrize("spec", metrics.METRICS.values(), ids=list(metrics.METRICS))
def test_every_registered_metric_is_gated_in_its_own_direction(spec):
    name, gated = spec.name, config.Gate(tolerance={spec.name: 0.1})
    worse, better = (0.5, 1.5) if spec.higher_is_better else (1.5, 0.5)
    result = gate.compare(
        {"w": {name: 1.0}, "b": {name: 1.0}}, {"w": {name: worse}, "b": {name: better}}, gated
    )
    assert verdicts(result) == {("b", name): gate.BETTER, ("w", name): gate.REGRESSED}
    assert f"| w | {name} | {spec.direction} |" in gate.render(result)


def lock(**data_hashes: str) -> dict:
    """A parsed dvc.lock whose train@<experiment> stages read processed data of these hashes."""
    return {
        "stages": {
            f"train@{name}": {
                "deps": [{"path": f"data/processed/{name}", "md5": digest}, {"path": "x", "md5": "1"}]
            }
            for name, digest in data_hashes.items()
        }
        | {"download@iris": {"deps": [{"path": "sources/iris", "md5": "0"}]}}
    }


def test_only_experiments_whose_data_changed_are_new_data():
    assert gate.data_changed(lock(a="1.dir", b="2.dir"), lock(a="1.dir", b="3.dir", c="4.dir")) == {"b"}
    assert gate.data_changed({}, lock(a="1.dir")) == set()


def test_a_regression_on_new_data_is_reference_only_and_passes():
    result = gate.compare(
        {"a": {"accuracy": 0.9}, "b": {"accuracy": 0.9}},
        {"a": {"accuracy": 0.91}, "b": {"accuracy": 0.5}},
        GATE,
        new_data={"b"},
    )
    assert result.passed
    assert verdicts(result) == {("a", "accuracy"): gate.BETTER, ("b", "accuracy"): gate.NEW_DATA}
    assert "new data: reference only" in gate.render(result)
    assert "(0 new, 1 on new data: reference only)" in result.summary()


def test_a_metric_lost_on_new_data_still_fails():
    result = gate.compare({"b": {"accuracy": 0.9}}, {"b": {}}, GATE, new_data={"b"})
    assert verdicts(result) == {("b", "accuracy"): gate.MISSING} and not result.passed
