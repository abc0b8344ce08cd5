"""What the table kinds (csv, http, sql, folder) share: the raw layout and the one reader of it.

Raw layout: `data.csv` or `data.parquet` (the table), `meta.json` and `snapshot.json`. Reading picks
the columns params.yaml names (`features` / `drop`; never `target` or `time`) and orders the rows by
`time`; string columns come back as they are, for preprocess to encode with statistics of the
training split only.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pipeline.config import TableFields, TableFormat
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets.raw import Raw

DATA_FILES: dict[TableFormat, str] = {"csv": "data.csv", "parquet": "data.parquet"}


def data_file(raw_dir: Path) -> Path:
    """The table file of a raw directory (data.csv or data.parquet)."""
    for name in DATA_FILES.values():
        if (Path(raw_dir) / name).exists():
            return Path(raw_dir) / name
    raise PipelineError(
        f"{raw_dir} holds no data.csv or data.parquet: run `dvc repro download@{Path(raw_dir).name}`"
    )


def read_file(path: Path):
    """A csv or parquet file (by its suffix) as a DataFrame; a file that is neither is a PipelineError."""
    import pandas as pd

    parquet = Path(path).suffix == ".parquet"
    try:
        return pd.read_parquet(path) if parquet else pd.read_csv(path)
    except ValueError as err:  # pandas' and pyarrow's parse errors, undecodable text
        kind = "parquet" if parquet else "CSV"
        raise PipelineError(f"{path} is not a readable {kind} table: {str(err).strip()}") from None


def load_frame(raw_dir: Path):
    return read_file(data_file(raw_dir))


def save_frame(frame, out: Path, table_format: TableFormat) -> Path:
    """Write `frame` as the table of raw directory `out`, atomically."""
    path = Path(out) / DATA_FILES[table_format]
    with storage.atomic_path(path) as tmp:
        if table_format == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return path


def read(name: str, cfg: TableFields, raw_dir: Path, meta: dict) -> Raw:
    import pandas as pd

    frame = load_frame(raw_dir)
    _require_columns(name, cfg, [str(c) for c in frame.columns])
    times = None
    if cfg.time is not None:
        frame = frame.sort_values(cfg.time, kind="stable", key=time_values).reset_index(drop=True)
        times = time_values(frame[cfg.time]).to_numpy()
    if cfg.task == "forecast":
        columns = [cfg.target, *(cfg.features or [])]
        numeric = frame[columns].apply(pd.to_numeric, errors="coerce")
        _require_numeric(name, numeric, columns, "a forecast's features must be numeric")
        return Raw("forecast", "sequence", numeric.to_numpy(np.float32), columns=tuple(columns), times=times)
    left_out = (cfg.target, cfg.time, *cfg.drop)
    chosen = cfg.features if cfg.features is not None else [c for c in frame.columns if c not in left_out]
    numeric_columns, categorical = _split_columns(name, frame[chosen])
    numeric = frame[numeric_columns].apply(pd.to_numeric, errors="coerce")
    _require_numeric(name, numeric, numeric_columns, "clean the data or list those columns in `drop`")
    x = numeric.to_numpy(np.float32).reshape(len(frame), len(numeric_columns))
    fields = {"columns": tuple(numeric_columns), "categorical": categorical or None, "times": times}
    if cfg.task == "classification":
        labels = frame[cfg.target].astype(str).to_numpy()
        names, y = np.unique(labels, return_inverse=True)
        return Raw("classification", "tabular", x, y.astype(np.int64), tuple(str(n) for n in names), **fields)
    target = pd.to_numeric(frame[cfg.target], errors="coerce")
    _require_numeric(name, target.to_frame(), [cfg.target], "clean the data")
    return Raw("regression", "tabular", x, target.to_numpy(np.float32), **fields)


def _require_columns(name: str, cfg: TableFields, present: list[str]) -> None:
    named = [("target", [cfg.target]), ("time", [cfg.time] if cfg.time else []), ("drop", cfg.drop)]
    for key, columns in [*named, ("features", cfg.features or [])]:
        for column in columns:
            if column not in present:
                raise PipelineError(
                    f"datasets.{name}.{key}: column {column!r} is not in the table; "
                    f"columns: {', '.join(present)}"
                )


def _split_columns(name: str, frame) -> tuple[list[str], dict[str, np.ndarray]]:
    """(numeric columns, {string column: its values}). A column none of whose values is a number is a
    category; a date column stops with a hint, since one-hot dates would be noise."""
    import pandas as pd

    numeric, categorical = [], {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "M":
            raise _dates_error(name, column)
        if (
            values.empty
            or values.dtype.kind in "biuf"
            or pd.to_numeric(values, errors="coerce").notna().any()
        ):
            numeric.append(column)  # numbers, perhaps with stray text: _require_numeric names it
            continue
        if values.isna().any():
            raise PipelineError(
                f"dataset {name!r}: column {column!r} has empty values; fill them or list it in `drop`"
            )
        if _is_dates(values):
            raise _dates_error(name, column)
        categorical[column] = values.astype(str).to_numpy()
    return numeric, categorical


def _dates_error(name: str, column: str) -> PipelineError:
    return PipelineError(
        f"dataset {name!r}: column {column!r} holds dates; name it as `time` (to order rows) "
        "or list it in `drop`"
    )


def _as_dates(values):
    """`values` parsed as dates (NaT where a value is not one)."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": that is the answer, not a problem
        return pd.to_datetime(values, errors="coerce", format="mixed")


def _is_dates(values) -> bool:
    return bool(_as_dates(values).notna().all())


def time_values(values):
    """The `time` column as it orders rows: numbers as numbers, dates as dates (1/10/2021 after 1/2/2021)."""
    if values.dtype.kind in "biufM" or not _is_dates(values):
        return values
    return _as_dates(values)


def _require_numeric(name: str, frame, columns: list[str], fix: str) -> None:
    bad = [c for c in columns if frame[c].isna().any()]
    if bad:
        raise PipelineError(
            f"dataset {name!r}: column(s) {', '.join(map(str, bad))} hold empty or non-numeric values; {fix}"
        )
