"""Schema checks of a table snapshot (pandera): a schema inferred from the first snapshot, saved as
YAML people read and edit, and every later snapshot checked against it with one clear message."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from pipeline.core import storage
from pipeline.core.errors import PipelineError

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

RANGE_MARGIN = 0.5  # an inferred range grows by this share of its width on each side: growth passes
MAX_CATEGORIES = 50  # a string column with more distinct values is free text: no list of allowed values
SHOWN = 3  # offending values quoted in a message

HEADER = """\
# The schema validate@{dataset} checks each new snapshot of data set `{dataset}` against (pandera).
# Inferred from the first snapshot: review it, edit it if a rule is wrong, and commit it.
# Per column:
#   dtype                 the type of its values (float64 columns take whole numbers too)
#   nullable              whether empty values are allowed at all
#   missing_rate_at_most  the largest share of empty values (the first snapshot's + validate.max_missing_rate)
#   in_range              expected values: the first snapshot's range widened by half its width each side.
#                         Values outside it warn (raise_warning: true), as a trending series outgrows
#                         any range; set raise_warning: false to stop on them instead
#   isin                  allowed values of a category, or a classification's labels: add new ones here
# Columns not listed may come and go; a listed column that is missing stops the pipeline.
"""


def missing_rate_at_most(series: pd.Series, *, limit: float) -> bool:
    """At most `limit` of the column's values are empty (a pandera check, named so in the YAML)."""
    return bool(series.isna().mean() <= limit)


@functools.cache
def _pandera() -> ModuleType:
    """pandera (its pandas API) with the check above registered. Imported on first use, not with this
    module: importing pandera sets environment variables (PYARROW_IGNORE_TIMEZONE, SPARK_LOCAL_IP)."""
    import pandera.pandas as pa
    from pandera import extensions

    extensions.register_check_method(statistics=["limit"], check_type="vectorized")(missing_rate_at_most)
    return pa


def infer(
    frame: pd.DataFrame, *, target: str, classification: bool, time: str | None, max_missing_rate: float
) -> pa.DataFrameSchema:
    """A schema that the snapshot `frame` passes and natural growth keeps passing (see HEADER)."""
    pa = _pandera()
    columns = {
        str(name): _infer_column(
            frame[name],
            labels=classification and name == target,
            is_time=name == time,
            max_missing_rate=max_missing_rate,
        )
        for name in frame.columns
    }
    return pa.DataFrameSchema(columns, strict=False)


def _infer_column(values: pd.Series, *, labels: bool, is_time: bool, max_missing_rate: float) -> pa.Column:
    pa = _pandera()
    missing = float(values.isna().mean())
    checks = []
    if missing > 0:
        limit = round(min(missing + max_missing_rate, 1.0), 4)
        checks.append(pa.Check.missing_rate_at_most(limit=limit, ignore_na=False))
    present = values.dropna()
    kind = values.dtype.kind
    if labels or (kind == "O" and not is_time and 0 < present.nunique() <= MAX_CATEGORIES):
        checks.append(pa.Check.isin(sorted(present.unique().tolist())))
    if labels or kind in "bM":  # labels keep their type: 1 and 1.0 are one label, "1" another
        return pa.Column(str(values.dtype), checks, nullable=missing > 0)
    if kind in "iuf":
        if not is_time and len(present):  # times grow past any range
            bounds = _widened(float(present.min()), float(present.max()))
            checks.append(pa.Check.in_range(*bounds, raise_warning=True))
        return pa.Column("float64", checks, nullable=missing > 0, coerce=True)
    text = str(values.dtype) == "str"  # pandas' string type; `object` columns mix types: no dtype rule
    return pa.Column("str" if text else None, checks, nullable=missing > 0)


def _widened(low: float, high: float) -> tuple[float, float]:
    margin = RANGE_MARGIN * ((high - low) or abs(high) or 1.0)
    return round(low - margin, 6), round(high + margin, 6)


def save(schema: pa.DataFrameSchema, path: Path, dataset: str) -> None:
    storage.write_text(path, HEADER.format(dataset=dataset) + schema.to_yaml())


def load(path: Path) -> pa.DataFrameSchema:
    try:
        return _pandera().DataFrameSchema.from_yaml(path)
    except Exception as err:  # pandera raises whatever its YAML reading meets
        raise PipelineError(
            f"{path} is not a pandera schema ({err}); fix it, or delete it to infer a new one"
        ) from None


def check(
    frame: pd.DataFrame, schema: pa.DataFrameSchema, *, target: str, where: str, schema_path: Path
) -> list[str]:
    """PipelineError naming each failing column and rule, when `frame` breaks a rule of `schema`; the
    broken rules marked `raise_warning: true` (inferred ranges) as sentences to warn with."""
    problems = _problems(frame, _rules(schema, warning=False), target)
    if problems:
        raise PipelineError(
            f"{where} fails {schema_path}: {'; '.join(problems)}. Fix the data, or edit {schema_path} "
            "if the change is expected"
        )
    return [
        f"{where}: {problem} (a warning in {schema_path}: set raise_warning: false to stop on it)"
        for problem in _problems(frame, _rules(schema, warning=True), target)
    ]


def _rules(schema: pa.DataFrameSchema, *, warning: bool) -> pa.DataFrameSchema:
    """`schema` with only its checks that warn (as errors, so pandera reports their failure cases), or
    only those that stop."""

    def kept(column: pa.Column) -> list[pa.Check]:
        checks = [copy.copy(c) for c in column.checks if c.raise_warning == warning]
        for rule in checks:
            rule.raise_warning = False
        return checks

    return schema.update_columns({name: {"checks": kept(col)} for name, col in schema.columns.items()})


def _problems(frame: pd.DataFrame, schema: pa.DataFrameSchema, target: str) -> list[str]:
    try:
        schema.validate(frame, lazy=True)
    except _pandera().errors.SchemaErrors as err:
        return describe(err.failure_cases, schema, frame, target)
    return []


def describe(
    failures: pd.DataFrame, schema: pa.DataFrameSchema, frame: pd.DataFrame, target: str
) -> list[str]:
    """pandera's failure cases as one sentence per column and rule; a column of the wrong type is
    reported for that alone (its other rules fail because of it)."""
    problems, wrong_type = [], set()
    groups = sorted(failures.groupby(["column", "check"], dropna=False, sort=False), key=_reported_first)
    for (column, check_name), rows in groups:
        if check_name == "column_in_dataframe":
            problems += [_missing_column(str(name), schema, frame) for name in rows["failure_case"]]
        elif "dtype(" in check_name:
            if column not in wrong_type:
                wrong_type.add(column)
                expected = _type_name(schema.columns[column].dtype)
                problems.append(f"column {column!r} should hold {expected} values, not {_examples(rows)}")
        elif column not in wrong_type:
            problems.append(_broken_rule(column, check_name, rows, schema, frame, target))
    return problems


def _reported_first(group) -> int:
    """Missing columns, then wrong types, then the other rules."""
    (_, check_name), _ = group
    return 0 if check_name == "column_in_dataframe" else 1 if "dtype(" in check_name else 2


def _type_name(dtype) -> str:
    return "text" if "str" in str(dtype) else str(dtype)


def _missing_column(column: str, schema: pa.DataFrameSchema, frame: pd.DataFrame) -> str:
    new = [str(c) for c in frame.columns if c not in schema.columns]
    hint = f"; new: {', '.join(new)}: was it renamed?" if new else ""
    return f"column {column!r} is missing (columns now: {', '.join(map(str, frame.columns))}{hint})"


def _broken_rule(column, check_name: str, rows, schema: pa.DataFrameSchema, frame, target: str) -> str:
    if check_name == "not_nullable":
        return f"column {column!r} has {len(rows)} empty value(s), the schema allows none"
    checks = schema.columns[column].checks
    stats = checks[int(rows["check_number"].iloc[0])].statistics
    if check_name.startswith("missing_rate_at_most"):
        rate = frame[column].isna().mean()
        return f"column {column!r} is {rate:.0%} empty, more than the schema's {stats['limit']:.0%}"
    if check_name.startswith("isin"):
        allowed = ", ".join(map(str, stats["allowed_values"]))
        what = "new label(s)" if column == target else "value(s) never seen before"
        return f"column {column!r} has {what} {_examples(rows)} (allowed: {allowed})"
    if check_name.startswith("in_range"):
        bounds = f"[{stats['min_value']}, {stats['max_value']}]"
        return f"column {column!r} has values outside {bounds}: {_examples(rows)}"
    return f"column {column!r} fails {check_name}: {_examples(rows)}"


def _examples(rows: pd.DataFrame) -> str:
    values = rows["failure_case"].drop_duplicates().tolist()
    more = f" and {len(values) - SHOWN} more" if len(values) > SHOWN else ""
    return ", ".join(repr(v) for v in values[:SHOWN]) + more
