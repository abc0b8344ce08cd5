"""Pruning from inside a trial's `train@` stage: each epoch's validation value goes to the study, and
a trial the pruner judges hopeless stops there.

A pruned stage writes no output (DVC keeps no experiment of it, the run-cache no entry: a pruning
decision depends on the other trials, not on the point alone), tags its MLflow run
`pipeline.trial_state=pruned`, ends it KILLED and exits with PRUNED_EXIT; its worker then records
the trial as PRUNED in the study.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.core import trial_env
from pipeline.tuning import study

logger = logging.getLogger(__name__)

PRUNED_EXIT = 3
PRUNED_AFTER = "pruned_after_epoch"  # the trial's user attr: how its worker tells pruned from failed


class Watcher:
    """Reports a Keras fit's epochs to its trial; `pruned_after` is the epoch count once pruned."""

    def __init__(self, trial: Any, monitor: str, number: int) -> None:
        self.trial, self.monitor, self.number = trial, monitor, number
        self.pruned_after: int | None = None

    def callbacks(self) -> list[Any]:
        import keras

        watcher = self

        class ReportEpochs(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                value = (logs or {}).get(watcher.monitor)
                if value is not None and watcher.report(epoch, float(value)):
                    self.model.stop_training = True

        return [ReportEpochs()]

    def report(self, epoch: int, value: float) -> bool:
        """Send one epoch's value; whether the trial is pruned now."""
        try:
            self.trial.report(value, epoch)
            pruned = self.trial.should_prune()
        except Exception as err:  # the study is unreachable or the trial ended: train on, unpruned
            logger.warning("trial %d: cannot report epoch %d to the study (%s)", self.number, epoch + 1, err)
            return False
        if pruned:
            self.pruned_after = epoch + 1
        return pruned

    def stop_if_pruned(self, run: Any) -> None:
        """After fit: when pruned, tag the run and leave the stage (SystemExit: the run ends KILLED)."""
        if self.pruned_after is None:
            return
        run.set_tags({"pipeline.trial_state": "pruned", "pipeline.pruned_after_epoch": self.pruned_after})
        self.trial.set_user_attr(PRUNED_AFTER, self.pruned_after)
        logger.warning(
            "trial %d pruned after epoch %d: its %s is worse than the median of earlier trials at that epoch",
            self.number, self.pruned_after, self.monitor,
        )  # fmt: skip
        raise SystemExit(PRUNED_EXIT)


def watcher(experiment_name: str, backend: str) -> Watcher | None:
    """The pruning watcher of this process's trial: None outside a tuning trial, for scikit-learn
    models (fitted in one go) and when the study does not prune."""
    env = trial_env.current()
    if env is None or backend != "keras":
        return None
    import optuna

    joined = study.join(env.storage, env.study)
    record = study.record_of(joined)
    monitor = record.spec.epoch_monitor
    if monitor is None or record.experiment != experiment_name:
        return None
    return Watcher(optuna.trial.Trial(joined, env.trial_id), monitor, env.number)
