"""The result of a SELECT through SQLAlchemy (PostgreSQL, SQLite), written as `data.csv`.

Its check token is the answer to `check_query`, else the row count and latest `time` of the query's
result, else the row count and a hash of the whole result. A fetch takes the token and the rows in
one transaction (repeatable read on PostgreSQL), so they agree. Errors name the data set and never
show a password. Raw layout and reading: pipeline.datasets.sources.tables.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pipeline.config import SqlSource
from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri, scrub
from pipeline.datasets import snapshot
from pipeline.datasets.sources import SourceUnreachable, tables

read = tables.read
FETCH_CONNECT_SECONDS = 30.0  # a fetch runs after a check succeeded: the database is slow, not gone


def _url(name: str, cfg: SqlSource) -> str:
    if cfg.url is not None:
        return cfg.url
    url = os.environ.get(cfg.url_env or "")
    if not url:
        raise PipelineError(
            f"datasets.{name}.url_env: environment variable {cfg.url_env} is not set; "
            "set it to the database URL"
        )
    return url


def _engine(name: str, url: str, timeout: float):
    """An engine that gives up connecting after `timeout` seconds; a missing SQLite file is unreachable
    (SQLite would create an empty one)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise PipelineError(f"dataset {name!r}: {mask_uri(url)} is not a SQLAlchemy database URL") from None
    backend = parsed.get_backend_name()
    in_file = backend == "sqlite" and parsed.database not in (None, "", ":memory:")
    if in_file and not Path(parsed.database).is_file():
        raise SourceUnreachable(f"dataset {name!r}: SQLite database {parsed.database} does not exist")
    if parsed.drivername == "postgresql":  # the driver the project installs (SQLAlchemy's default varies)
        parsed = parsed.set(drivername="postgresql+psycopg2")
    connect_args = {
        "postgresql": {"connect_timeout": max(1, round(timeout))},
        "sqlite": {"timeout": timeout},
    }.get(backend, {})
    try:
        return sqlalchemy.create_engine(parsed, connect_args=connect_args, poolclass=NullPool)
    except ModuleNotFoundError as err:
        raise PipelineError(
            f"dataset {name!r}: the database driver of {mask_uri(url)} is not installed ({err.name})"
        ) from None


def _token(connection, cfg: SqlSource) -> dict:
    from sqlalchemy import text

    if cfg.check_query is not None:
        rows = connection.execute(text(cfg.check_query)).all()
        return {"check": [[snapshot.plain(v) for v in row] for row in rows]}
    query = cfg.query.strip().rstrip(";")
    if cfg.time is not None:
        time = connection.dialect.identifier_preparer.quote(cfg.time)
        count, latest = connection.execute(text(f"SELECT COUNT(*), MAX({time}) FROM ({query}) AS live")).one()
        return {"rows": count, "latest": snapshot.plain(latest)}
    digest, count = hashlib.sha256(), 0
    for row in connection.execute(text(query)):
        digest.update(json.dumps([snapshot.plain(v) for v in row]).encode() + b"\n")
        count += 1
    return {"rows": count, "sha256": digest.hexdigest()}


def _connect(name: str, cfg: SqlSource, timeout: float, work):
    """`work(connection)` in one transaction; a database that does not answer is SourceUnreachable,
    any other database error a PipelineError, both naming the data set with the URL masked."""
    import sqlalchemy

    url = _url(name, cfg)
    engine = _engine(name, url, timeout)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                return work(connection)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as err:
        reason = scrub(str(err.orig or err).strip().splitlines()[0], url)
        raise SourceUnreachable(f"dataset {name!r}: {mask_uri(url)} did not answer ({reason})") from None
    except sqlalchemy.exc.SQLAlchemyError as err:
        reason = scrub(str(getattr(err, "orig", None) or err).strip().splitlines()[0], url)
        raise PipelineError(f"dataset {name!r}: the query on {mask_uri(url)} failed: {reason}") from None
    finally:
        engine.dispose()


def location(name: str, cfg: SqlSource) -> dict:
    """Where the data comes from, as snapshot.json records it (the password masked)."""
    return {"kind": "sql", "url": mask_uri(_url(name, cfg)), "query": cfg.query}


def check(name: str, cfg: SqlSource, timeout: float) -> dict:
    return _connect(name, cfg, timeout, lambda connection: _token(connection, cfg))


def fetch(name: str, cfg: SqlSource, out: Path) -> None:
    import pandas as pd
    from sqlalchemy import text

    def token_and_rows(connection):
        return _token(connection, cfg), pd.read_sql(text(cfg.query), connection)

    try:
        token, frame = _connect(name, cfg, FETCH_CONNECT_SECONDS, token_and_rows)
    except SourceUnreachable as err:
        raise PipelineError(str(err)) from None
    tables.save_frame(frame, out, "csv")
    snapshot.write(out, name, cfg, location(name, cfg), token, frame)
