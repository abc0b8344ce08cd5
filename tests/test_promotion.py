"""Promotion decisions (pure) and the registry helpers end to end on a temporary SQLite store."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from pipeline.config import Experiment, Mlflow
from pipeline.core import metrics
from pipeline.core.errors import PipelineError
from pipeline.decisions.promotion import Decision, best_experiment, decide
from pipeline.tracking import registry, runs

ACCURACY, RMSE = metrics.spec("accuracy"), metrics.spec("rmse")

# --- decide -------------------------------------------------------------------------------------


def test_first_promotion_when_there_is_no_champion() -> None:
    decision = decide(0.8, None, metric=ACCURACY, margin=0.01)
    assert decision.promote and "no champion" in decision.reason


def test_a_champion_judged_on_another_metric_is_replaced_saying_so() -> None:
    decision = decide(0.8, None, metric=ACCURACY, margin=0.01, champion_exists=True)
    assert decision.promote
    assert decision.reason == (
        "the champion has no test accuracy to compare (it was promoted on another metric): "
        "the challenger (0.8) replaces it"
    )


def test_a_better_challenger_is_promoted() -> None:
    decision = decide(0.9, 0.8, metric=ACCURACY, margin=0.01)
    assert decision == Decision(True, decision.reason) and "challenger wins" in decision.reason


def test_a_worse_challenger_is_not_promoted() -> None:
    assert not decide(0.7, 0.8, metric=ACCURACY, margin=0.0).promote


@pytest.mark.parametrize(("challenger", "margin"), [(0.8, 0.0), (0.805, 0.01), (0.81, 0.01)])
def test_a_tie_or_a_gain_within_the_margin_never_demotes(challenger: float, margin: float) -> None:
    decision = decide(challenger, 0.8, metric=ACCURACY, margin=margin)
    assert not decision.promote and "champion stays" in decision.reason


@pytest.mark.parametrize(
    ("challenger", "champion", "promote"),
    [(18.0, 20.0, True), (21.0, 20.0, False), (19.8, 20.0, False), (20.0, 20.0, False)],
)
def test_lower_is_better_metrics(challenger: float, champion: float, promote: bool) -> None:
    decision = decide(challenger, champion, metric=RMSE, margin=0.5)
    assert decision.promote is promote
    assert "lower is better" in decision.reason


def test_a_challenger_without_a_finite_value_is_never_promoted() -> None:
    assert not decide(math.nan, 0.8, metric=ACCURACY, margin=0.0).promote
    assert not decide(math.nan, None, metric=ACCURACY, margin=0.0).promote


def test_numpy_scalars_are_numbers() -> None:
    assert decide(np.float32(0.9), 0.8, metric=ACCURACY, margin=0.0).promote


def test_a_negative_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="margin must be >= 0"):
        decide(0.9, 0.8, metric=ACCURACY, margin=-0.1)


# --- best_experiment ----------------------------------------------------------------------------

RESULTS = {
    "digits-logreg": {"test": {"accuracy": 0.95, "rmse": 3.0}, "val": {"accuracy": 0.99}},
    "digits-cnn": {"test": {"accuracy": 0.98, "rmse": 2.0}, "val": {"accuracy": 0.97}},
    "digits-svc": {"test": {"accuracy": 0.98, "rmse": 4.0}},
    "digits-broken": {"test": {"accuracy": math.nan}},
}


def test_best_experiment_uses_test_metrics_and_breaks_ties_by_name() -> None:
    assert best_experiment(RESULTS, ACCURACY) == "digits-cnn"  # svc ties later
    assert best_experiment(RESULTS, RMSE) == "digits-cnn"


def test_best_experiment_names_a_missing_metric() -> None:
    with pytest.raises(PipelineError, match=r"'macro_f1'.*accuracy, rmse.*promote\.metrics"):
        best_experiment(RESULTS, metrics.spec("macro_f1"))


# --- who may change the registry ----------------------------------------------------------------


def test_the_workspace_may_change_the_registry(tmp_path: Path) -> None:
    assert registry.read_only_reason(tmp_path, environ={"DVC_ROOT": str(tmp_path)}) is None


def test_a_queued_or_temp_experiment_may_not(tmp_path: Path) -> None:
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpab12cd"
    copy.mkdir(parents=True)
    environ = {"DVC_ROOT": str(tmp_path), "DVC_EXP_NAME": "sappy-buck"}
    assert "sappy-buck runs in a queued or --temp copy" in registry.read_only_reason(copy, environ=environ)


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_a_ci_sweep_says_so_with_an_environment_variable(tmp_path: Path, value: str) -> None:
    reason = registry.read_only_reason(tmp_path, environ={"PIPELINE_PROMOTE_DRY_RUN": value})
    assert reason == "PIPELINE_PROMOTE_DRY_RUN is set"


# --- registry helpers on SQLite -----------------------------------------------------------------


def logged_run(name: str) -> str:
    """A finished run holding a small scikit-learn model; returns its id."""
    x, y = make_classification(n_samples=40, n_features=4, random_state=0)
    experiment = Experiment.model_validate(
        {
            key: value
            for key, value in {
                "name": name,
                "seed": 0,
                "dataset": "toy",
                "dataset_config": {"source": "sklearn", "name": "iris"},
                "backend": "sklearn",
                "model_name": "logreg",
                "model": {"family": "sklearn", "estimator": "logistic_regression"},
                "mlflow": Mlflow(experiment_prefix="promote-", required=True),
            }.items()
            if key in Experiment.model_fields
        }
    )
    with runs.run(experiment, stage="train") as run:
        run.log_model(LogisticRegression().fit(x, y), flavor="sklearn", input_example=x[:2])
    return run.run_id


def promote(run_id: str, value: float) -> bool:
    """What the promote stage does: compare with the champion, register, move the alias if better."""
    current = registry.champion("toy")
    decision = decide(value, current[1] if current else None, metric=ACCURACY, margin=0.01)
    version = registry.register(run_id, "toy", "accuracy", value)
    if decision.promote:
        registry.set_champion("toy", version)
    return decision.promote


def test_registry_moves_the_champion_alias_only_for_a_better_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    first, better, worse = (logged_run(f"toy-{n}") for n in ("first", "better", "worse"))
    assert registry.champion("toy") is None

    assert promote(first, 0.80)
    assert registry.champion("toy") == ("1", 0.80, first)

    assert promote(better, 0.90)
    assert registry.champion("toy") == ("2", 0.90, better)

    assert not promote(worse, 0.85)
    assert registry.champion("toy") == ("2", 0.90, better)  # v3 is registered, the alias stays

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name = 'toy'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]
    assert {str(v.version): v.tags["promote.value"] for v in versions}["3"] == "0.85"
    assert registry.champion("toy", metric_name="rmse") == ("2", None, better)  # not comparable
    champion_model = mlflow.pyfunc.load_model("models:/toy@champion")
    assert champion_model.metadata.run_id == better


def test_registering_a_run_without_a_model_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(PipelineError, match="dvc repro train"):
        registry.register("0" * 32, "toy", "accuracy", 0.5)
