"""A SQLite tracking store made ready once: created and migrated under a file lock beside it."""

from __future__ import annotations

import fcntl
from pathlib import Path

_prepared_stores: set[str] = set()  # sqlite files this process created/checked under the lock


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI (None for any other store, or an in-memory one)."""
    if not uri.startswith("sqlite:///"):
        return None
    raw = uri[len("sqlite:///") :].split("?", 1)[0]
    return None if raw in ("", ":memory:") else Path(raw).resolve()


def prepare_sqlite(db: Path) -> None:
    """Create and migrate a SQLite store once, under a file lock beside it.

    Several processes (e.g. `dvc queue start -j 4`) opening a fresh store at once crash in MLflow's
    schema migration; one at a time they find it ready. A migrated store takes concurrent writes.
    """
    key = str(db)
    if key in _prepared_stores and db.exists():
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _marked_ready(db):  # every stage is a new process: skip the ~2 s check when done
                from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
                from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

                uri = f"sqlite:///{db}"
                store = SqlAlchemyStore(uri, artifact_root(db).as_uri())  # tables + default experiment
                store.engine.dispose()
                RegistryStore(uri).engine.dispose()
                _ready_marker(db).write_text(_ready_stamp(db))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _prepared_stores.add(key)


def _ready_marker(db: Path) -> Path:
    return db.with_name(db.name + ".ready")


def _ready_stamp(db: Path) -> str:
    """This MLflow version and this very database file (a new or replaced file gets prepared again)."""
    import mlflow

    return f"mlflow {mlflow.__version__}, inode {db.stat().st_ino}"


def _marked_ready(db: Path) -> bool:
    marker = _ready_marker(db)
    return db.exists() and marker.exists() and marker.read_text() == _ready_stamp(db)


def artifact_root(db: Path) -> Path:
    """Artifacts of a SQLite store live beside it, never in a `dvc exp --temp` copy that gets deleted."""
    return db.parent / "mlartifacts"
