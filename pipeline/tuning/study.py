"""Creating and joining a study: its storage, sampler, pruner and the record every worker follows.

The study is created once, by `make tune`, before any worker starts (two workers creating one study
at the same moment race in the database). What the workers need is stored with it as the user attr
`pipeline` (the experiment, its `tune:` spec, the seed, the git commit, the MLflow run of the study),
so a worker on another machine joins with the study's name and storage alone.

Workers beat a heartbeat into the storage; a trial whose worker died (killed, machine lost) goes stale
after the grace period, the next worker to start a trial marks it FAIL and queues its point again once.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.tuning import TuneSpec
from pipeline.core.errors import PipelineError
from pipeline.tuning import space

logger = logging.getLogger(__name__)

RECORD = "pipeline"  # the study's user attr holding its Record
DEFAULT_STORAGE_FILE = "optuna.db"
HEARTBEAT_SECONDS = 30


@dataclass(frozen=True)
class Record:
    """What a study searches and how: the same for every worker that joins it."""

    experiment: str
    spec: TuneSpec
    seed: int
    commit: str
    mlflow_run_id: str = ""
    deadline: float = 0.0  # `timeout_minutes` as a time (epoch seconds) no trial starts after; 0: none

    def dump(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "spec": self.spec.model_dump(mode="json", by_alias=True),
            "seed": self.seed,
            "commit": self.commit,
            "mlflow_run_id": self.mlflow_run_id,
            "deadline": self.deadline,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Record:
        return cls(
            experiment=data["experiment"],
            spec=TuneSpec.model_validate(data["spec"]),
            seed=data["seed"],
            commit=data["commit"],
            mlflow_run_id=data.get("mlflow_run_id", ""),
            deadline=data.get("deadline", 0.0),
        )


def default_storage(project: Path) -> str:
    """A SQLite file in the project: one machine, a few workers."""
    return f"sqlite:///{(project / DEFAULT_STORAGE_FILE).resolve()}"


def storage(url: str, *, heartbeat_seconds: int | None = None) -> Any:
    """Optuna's RDB storage at `url`. With a heartbeat (workers only), stale trials are failed and their
    point retried once; SQLite waits for its lock instead of failing when workers write at once."""
    import optuna

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            heartbeat = {}
            if heartbeat_seconds:
                heartbeat = {
                    "heartbeat_interval": heartbeat_seconds,
                    "grace_period": 2 * heartbeat_seconds,
                    "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=1
                    ),
                }
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat)
    except Exception as err:  # sqlalchemy's connection errors, a bad URL
        reason = f"{type(err).__name__}: {str(err).splitlines()[0]}"
        raise PipelineError(
            f"cannot open the study storage {_masked(url)} ({reason}). Fix the URL (sqlite:///FILE, or "
            "postgresql+psycopg2://USER@HOST:PORT/DB with the password in PGPASSWORD) or start the "
            "database (make services)"
        ) from None


def _masked(url: str) -> str:
    from pipeline.core.urls import mask_uri

    return mask_uri(url)


def sampler(record: Record, worker: int = 0) -> Any:
    """The study's sampler in worker number `worker`: each worker draws from its own seed (seed +
    worker), or parallel workers would all propose the same points."""
    import optuna

    settings = record.spec.sampler
    seed = (record.seed if settings.seed is None else settings.seed) + worker
    if settings.name == "grid":
        return optuna.samplers.GridSampler(space.grid(record.spec.space), seed=seed)
    if settings.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=settings.startup_trials)


def pruner(spec: TuneSpec) -> Any:
    import optuna

    if spec.epoch_monitor is None:
        return optuna.pruners.NopPruner()
    settings = spec.pruner
    return optuna.pruners.MedianPruner(
        n_startup_trials=settings.startup_trials, n_warmup_steps=settings.warmup_epochs
    )


def create(url: str, name: str, record: Record, baseline: dict[str, Any] | None) -> Any:
    """A new study (or the existing one of that name, which must search the same experiment), with the
    current params' point queued first when it lies in the space."""
    import optuna

    existing = _names(url)
    if name in existing:
        study = join(url, name)
        found = Record.load(study.user_attrs[RECORD])
        if found.experiment != record.experiment:
            raise PipelineError(
                f"study {name!r} searches {found.experiment}, not {record.experiment}: pick another --study"
            )
        return study
    study = optuna.create_study(
        storage=storage(url), study_name=name, direction=record.spec.objective.direction,
        sampler=sampler(record), pruner=pruner(record.spec),
    )  # fmt: skip
    study.set_user_attr(RECORD, record.dump())
    if baseline is not None and record.spec.sampler.name != "grid":  # a grid has its own order
        study.enqueue_trial(baseline, user_attrs={"baseline": True})
    return study


def join(url: str, name: str, *, heartbeat_seconds: int | None = None, worker: int = 0) -> Any:
    """The study `name`, with the sampler (for worker number `worker`) and pruner its record names."""
    import optuna

    opened = storage(url, heartbeat_seconds=heartbeat_seconds)
    if name not in _names(url, opened):
        raise PipelineError(
            f"no study {name!r} in {_masked(url)}: start it with `make tune` first (it creates the study "
            "once; workers only join)"
        )
    bare = optuna.load_study(study_name=name, storage=opened)
    record = Record.load(bare.user_attrs[RECORD])
    return optuna.load_study(
        study_name=name, storage=opened, sampler=sampler(record, worker), pruner=pruner(record.spec)
    )


def record_of(study: Any) -> Record:
    return Record.load(study.user_attrs[RECORD])


def update_record(study: Any, record: Record) -> None:
    study.set_user_attr(RECORD, record.dump())


def _names(url: str, opened: Any = None) -> set[str]:
    import optuna

    return {summary.study_name for summary in optuna.get_all_study_summaries(opened or storage(url))}
