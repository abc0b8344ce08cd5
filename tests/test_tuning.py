"""make tune's parts on their own: the `tune:` section's checks, the space as Optuna asks it, the study's
record and workers' seeds, and the pruning watcher a trial's train stage runs (real Optuna storages)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

from pipeline import config
from pipeline.config.tuning import TuneSpec
from pipeline.core import trial_env
from pipeline.core.errors import PipelineError
from pipeline.tuning import pruning, space, study, trials
from tests.conftest import ROOT, free_port

SPACE = {
    "models.keras.cnn.dropout_rate": {"float": [0.1, 0.6]},
    "experiments.digits-cnn.train.optimizer.learning_rate": {"float": [1.0e-4, 1.0e-2], "log": True},
    "models.keras.cnn.filters": {"choice": [[16, 32], [32, 64]]},
    "models.keras.cnn.kernel_size": {"int": [2, 4]},
}


def params_with(tune: dict) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["tune"] = tune
    return params


def tune_error(tune: dict) -> str:
    with pytest.raises(PipelineError) as error:
        config.validate(params_with(tune), "params.yaml")
    return str(error.value)


def test_the_committed_search_spaces_are_valid() -> None:
    tuned = config.load(ROOT / "params.yaml").tune
    assert set(tuned) == {"digits-cnn", "digits-svc"}
    assert tuned["digits-cnn"].epoch_monitor == "val_loss"  # log_loss is pruned on the epoch's val_loss


@pytest.mark.parametrize(
    ("space_", "message"),
    [
        (
            {"models.keras.cnn.dropout_rate": {"float": [0.1, 1.5]}},
            "tune.digits-cnn.space.models.keras.cnn.dropout_rate.float: 1.5 gives invalid params "
            "(models.keras.cnn.dropout_rate: Input should be less than 1 (got 1.5))",
        ),
        (
            {"models.keras.cnn.dropout_rat": {"float": [0.1, 0.5]}},
            "models.keras.cnn.dropout_rat: Extra inputs are not permitted",
        ),
        (
            {"models.keras.dnn.dropout_rate": {"float": [0.1, 0.5]}},
            "tune.digits-cnn.space.models.keras.dnn.dropout_rate: experiment digits-cnn does not read it; it "
            "reads seed, datasets.digits, experiments.digits-cnn, models.keras.cnn, train.keras",
        ),
        (
            {"models.keras.cnn.filters": {"choice": [[16, 32], "wide"]}},
            "'wide' gives invalid params (models.keras.cnn.filters: Input should be a valid list",
        ),
        ({"models.keras.cnn.dropout_rate": {"float": [0.6, 0.1]}}, "needs low < high, got [0.6, 0.1]"),
        ({"models.keras.cnn.dropout_rate": {"flaot": [0.1, 0.6]}}, "give one of float: [low, high], int"),
        ({"models.keras.cnn.dropout_rate": {"float": [0.0, 0.6], "log": True}}, "log: true needs a positive"),
    ],
)
def test_a_bad_path_or_range_is_one_message_naming_it(space_: dict, message: str) -> None:
    said = tune_error({"digits-cnn": {"space": space_, "objective": {"metric": "log_loss"}}})
    assert said.startswith("params.yaml has invalid params:\n  tune.digits-cnn")
    assert message in said
    assert len(said.splitlines()) == 2


def test_an_unknown_metric_and_a_grid_over_a_continuous_range_are_refused() -> None:
    said = tune_error({"digits-cnn": {"space": SPACE, "objective": {"metric": "acc"}}})
    assert "tune.digits-cnn.objective.metric: no test metric 'acc'; use one of accuracy" in said
    grid = {"space": SPACE, "objective": {"metric": "accuracy"}, "sampler": {"name": "grid"}}
    assert "the grid sampler needs choice, int or a float step" in tune_error({"digits-cnn": grid})


def test_a_search_of_an_experiment_the_file_no_longer_has_waits_for_make_tune() -> None:
    """Trimming `experiments:` must not stop every stage; `make tune` says what is missing."""
    loaded = config.validate(
        params_with({"gone": {"space": SPACE, "objective": {"metric": "log_loss"}}}), "p"
    )
    assert "gone" in loaded.tune


def test_suggestions_stay_in_the_space_and_become_dvc_overrides() -> None:
    spec = TuneSpec.model_validate({"space": SPACE, "objective": {"metric": "log_loss"}})
    sampled = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        values = space.suggest(sampled.ask(), spec.space)
        assert 0.1 <= values["models.keras.cnn.dropout_rate"] <= 0.6
        assert 1e-4 <= values["experiments.digits-cnn.train.optimizer.learning_rate"] <= 1e-2
        assert values["models.keras.cnn.filters"] in ([16, 32], [32, 64])
        assert values["models.keras.cnn.kernel_size"] in (2, 3, 4)
    overrides = space.overrides({"models.keras.cnn.filters": [16, 32], "a.b": 0.0001, "c": "adam"})
    assert overrides == [
        "-S",
        "++models.keras.cnn.filters=[16, 32]",
        "-S",
        "++a.b=0.0001",
        "-S",
        '++c="adam"',
    ]


def test_the_baseline_is_the_current_point_when_it_lies_in_the_space() -> None:
    params = config.load(ROOT / "params.yaml").model_dump(mode="json", by_alias=True)
    spec = TuneSpec.model_validate({"space": SPACE, "objective": {"metric": "log_loss"}})
    # the experiment sets no learning rate of its own: the shared train.keras value is its current one
    assert space.baseline(spec.space, params, "digits-cnn") == {
        "models.keras.cnn.dropout_rate": 0.3,
        "experiments.digits-cnn.train.optimizer.learning_rate": 0.001,
        "models.keras.cnn.filters": "[32, 64]",
        "models.keras.cnn.kernel_size": 3,
    }
    narrow = TuneSpec.model_validate(
        {
            "space": {"models.keras.cnn.dropout_rate": {"float": [0.4, 0.6]}},
            "objective": {"metric": "log_loss"},
        }
    )
    assert space.baseline(narrow.space, params, "digits-cnn") is None


def test_grid_values_cover_each_range_by_its_step() -> None:
    spec = TuneSpec.model_validate(
        {
            "space": {
                "a": {"float": [0.1, 0.3], "step": 0.1},
                "b": {"int": [1, 5], "step": 2},
                "c": {"choice": [[1], [2]]},
            },
            "objective": {"metric": "accuracy"},
            "sampler": {"name": "grid"},
        }
    )
    grid = space.grid(spec.space)
    assert (
        grid["a"] == pytest.approx([0.1, 0.2, 0.3]) and grid["b"] == [1, 3, 5] and grid["c"] == ["[1]", "[2]"]
    )


def record(experiment: str = "digits-cnn", **spec: object) -> study.Record:
    settings = {"space": SPACE, "objective": {"metric": "log_loss"}, **spec}
    return study.Record(experiment, TuneSpec.model_validate(settings), 42, "c0ffee")


def test_a_study_is_created_once_and_workers_draw_from_their_own_seeds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    created = study.create(url, "s", record(), {"models.keras.cnn.dropout_rate": 0.3})
    assert created.direction == optuna.study.StudyDirection.MINIMIZE  # log_loss: lower is better
    again = study.create(url, "s", record(), None)
    assert study.record_of(again) == record() and len(again.trials) == 1, "the baseline is queued once"
    with pytest.raises(
        PipelineError, match="study 's' searches digits-cnn, not digits-svc: pick another --study"
    ):
        study.create(url, "s", record("digits-svc"), None)

    def first_draws(worker: int) -> list[float]:
        joined = study.join(url, "s", worker=worker)
        return [
            joined.sampler.sample_independent(joined, None, "x", optuna.distributions.FloatDistribution(0, 1))
            for _ in range(3)
        ]  # noqa: E501

    assert first_draws(0) == first_draws(0) != first_draws(1)


def test_a_missing_study_or_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(
        PipelineError, match=r"^no study 'nope' in sqlite:///.*: start it with `make tune` first"
    ):
        study.join(f"sqlite:///{tmp_path / 'optuna.db'}", "nope")
    url = f"postgresql+psycopg2://pipeline:secret@127.0.0.1:{free_port()}/optuna"
    with pytest.raises(PipelineError) as error:
        study.join(url, "s")
    said = str(error.value)
    assert said.startswith("cannot open the study storage postgresql+psycopg2://pipeline:***@127.0.0.1")
    assert "secret" not in said and "start the database (make services)" in said


class Tags:
    """What Run.set_tags received: the watcher's only use of the MLflow run."""

    def __init__(self) -> None:
        self.tags: dict = {}

    def set_tags(self, tags: dict) -> None:
        self.tags.update(tags)


def test_a_trial_worse_than_the_median_is_pruned_after_the_warm_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    created = study.create(url, "s", record(pruner={"startup_trials": 1, "warmup_epochs": 1}), None)
    finished = created.ask()
    for epoch, value in enumerate([0.9, 0.5, 0.3]):
        finished.report(value, epoch)
    created.tell(finished, 0.3)
    running = created.ask()
    env = trial_env.TrialEnv(url, "s", running.number, running._trial_id, "")
    monkeypatch.setattr("os.environ", {**__import__("os").environ, **env.variables()})

    assert pruning.watcher("digits-svc", "keras") is None, "another experiment's study"
    assert pruning.watcher("digits-cnn", "sklearn") is None, "fitted in one go"
    watcher = pruning.watcher("digits-cnn", "keras")
    assert watcher.monitor == "val_loss"
    assert [watcher.report(epoch, value) for epoch, value in enumerate([1.0, 0.95])] == [False, True]
    assert watcher.pruned_after == 2
    run = Tags()
    with pytest.raises(SystemExit) as stop:
        watcher.stop_if_pruned(run)
    assert stop.value.code == pruning.PRUNED_EXIT
    assert run.tags == {"pipeline.trial_state": "pruned", "pipeline.pruned_after_epoch": 2}
    stored = study.join(url, "s").trials[running.number]
    assert stored.user_attrs[pruning.PRUNED_AFTER] == 2 and stored.intermediate_values == {0: 1.0, 1: 0.95}


def test_a_trial_run_is_tagged_with_its_study_and_nested_under_its_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(trial_env.STUDY, raising=False)
    assert trial_env.run_tags() == {}
    for name, value in trial_env.TrialEnv("sqlite:///x", "s", 3, 7, "parent").variables().items():
        monkeypatch.setenv(name, value)
    assert trial_env.run_tags() == {
        "pipeline.study": "s",
        "pipeline.trial": "3",
        "mlflow.parentRunId": "parent",
    }


def test_a_failed_trial_names_the_stages_own_error() -> None:
    output = "\n".join(
        [
            "Running stage 'train@iris-dnn':",
            "2026-12-03 04:20:02,280 INFO pipeline.tracking.runs: MLflow run 1",
            "2026-12-03 04:20:07,810 ERROR stages: out of memory while building the model",
            "ERROR: failed to reproduce 'train@iris-dnn': failed to run: python -m stages.train iris-dnn",
        ]
    )
    assert trials._reason(output).endswith("ERROR stages: out of memory while building the model")
    assert trials._reason("Ran nothing\n") == "Ran nothing"
    crashed = "Traceback (most recent call last):\n  raise ValueError(\nValueError: Solver lbfgs ...\n"
    assert trials._reason(crashed + output.splitlines()[-1]) == "ValueError: Solver lbfgs ..."
    assert json.loads(space.overrides({"x": [1, 2]})[1].split("=", 1)[1]) == [1, 2]


def test_a_suggested_value_the_file_already_has_is_no_override() -> None:
    """So the baseline point runs the committed params unchanged and DVC restores it."""
    params = config.read_yaml(ROOT / "params.yaml")
    values = {
        "models.keras.cnn.dropout_rate": 0.3,
        "experiments.digits-cnn.train.batch_size": 64,  # unset: the shared train.keras.batch_size
        "models.keras.cnn.filters": [16, 32],
    }
    assert space.changes(values, params, "digits-cnn") == {"models.keras.cnn.filters": [16, 32]}


def test_a_worker_gives_up_after_three_failed_trials_in_a_row(tmp_path: Path) -> None:
    """A broken set-up fails every point the same way: the study stops instead of burning its budget."""
    from pipeline.tuning import workers

    outcomes = iter(["fail", "ok", "fail", "fail", "fail", "ok"])

    def objective(trial: optuna.trial.Trial) -> float:
        if next(outcomes) == "ok":
            return 0.5
        trial.set_user_attr("error", "ERROR stages: datasets.fortunes.path: ... does not exist")
        raise trials.TrialFailed("dvc exp run failed")

    created = study.create(f"sqlite:///{tmp_path / 'optuna.db'}", "s", record(), None)
    stopper = workers._Stopper(n_trials=10)
    created.optimize(objective, callbacks=[stopper], catch=(trials.TrialFailed,))
    assert [trial.state.name for trial in created.trials] == ["FAIL", "COMPLETE", "FAIL", "FAIL", "FAIL"]
    assert stopper.gave_up == "ERROR stages: datasets.fortunes.path: ... does not exist"
