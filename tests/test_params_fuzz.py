"""Property: any edit of params.yaml is either rejected with one PipelineError naming the key, or valid.

Seeded (derandomized) hypothesis edits of the real params: a value replaced by a malformed one (wrong
type, NaN, 1e309, negative, empty, huge, a shell metacharacter), a key deleted, an unknown key added, a
key renamed to an unsafe name. Accepted params must resolve every experiment and validate again.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from pipeline import config
from pipeline.core.errors import PipelineError
from pipeline.models import params_check

ROOT = Path(__file__).resolve().parents[1]
# Every section and model stays; Keras experiments are cut to three small ones (each check builds them)
KERAS_KEPT = ("iris-dnn", "digits-cnn", "fortunes-conv1d")
BAD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**64,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "abc",
    "x;touch pwned",
    "☃/../",
    "a" * 300,
    [],
    [2, 1],
    [0],
    ["a", None],
    {},
    {"k": 1},
]
BAD_NAMES = ["x;touch pwned", "a b", "☃", "../up", "", "n" * 100, "a.b", 1]


def base_params() -> dict:
    params = YAML(typ="safe").load((ROOT / "params.yaml").read_bytes())
    params["experiments"] = {
        name: spec
        for name, spec in params["experiments"].items()
        if spec["backend"] == "sklearn" or name in KERAS_KEPT
    }
    return params


BASE = base_params()


def paths(node, prefix=()) -> list[tuple]:
    """Every key path in the params tree (mappings and list items)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


PATHS = paths(BASE)


def parent(params: dict, path: tuple):
    node = params
    for key in path[:-1]:
        node = node[key]
    return node


def replace(params: dict, path: tuple, value) -> None:
    parent(params, path)[path[-1]] = value


def delete(params: dict, path: tuple, _) -> None:
    node = parent(params, path)
    if isinstance(node, dict):
        del node[path[-1]]
    else:
        node.pop(path[-1])


def add_key(params: dict, path: tuple, value) -> None:
    node = parent(params, path)
    if isinstance(node, dict):
        node["unknown_key"] = value


def rename(params: dict, path: tuple, name) -> None:
    node = parent(params, path)
    if isinstance(node, dict) and name not in node:
        node[name] = node.pop(path[-1])


EDITS = st.one_of(
    st.tuples(st.just(replace), st.sampled_from(PATHS), st.sampled_from(BAD_VALUES)),
    st.tuples(st.just(delete), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just(add_key), st.sampled_from(PATHS), st.sampled_from(BAD_VALUES)),
    st.tuples(st.just(rename), st.sampled_from(PATHS), st.sampled_from(BAD_NAMES)),
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(
    max_examples=300,
    derandomize=True,  # seeded: the same edits every run
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(EDITS, min_size=1, max_size=2))
def test_an_edit_is_rejected_by_name_or_valid(workdir, edits):
    params = copy.deepcopy(BASE)
    for edit, path, value in edits:
        try:
            edit(params, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier edit removed or replaced the path
            continue
    path = workdir / "params.yaml"
    with path.open("w") as stream:
        YAML(typ="safe").dump(params, stream)
    try:
        checked = params_check.check(path, workdir / "built.txt")  # unchanged Keras models are not rebuilt
    except PipelineError as err:
        message = str(err)
        assert message.startswith(str(path)) and "Traceback" not in message
        event("rejected")
        return
    event("accepted")
    for name in checked.experiments:
        config.experiment(checked, name)
    assert config.Params.model_validate(checked.model_dump()) == checked
    assert_strict(params, BASE)


def assert_strict(edited, base, where: str = "") -> None:
    """What was accepted keeps the committed file's kinds of values: a number stays a finite number (no
    bool; an experiment's train override may be null), and the names under datasets / models /
    experiments stay safe."""
    overrides = re.fullmatch(r"experiments\.[^.]+\.train\..+", where)  # null there: "not overridden"
    if isinstance(base, (int, float)) and not isinstance(base, bool) and not (overrides and edited is None):
        assert isinstance(edited, (int, float)) and not isinstance(edited, bool), where
        assert math.isfinite(edited), where
    if isinstance(base, dict) and isinstance(edited, dict):
        if where in ("datasets", "experiments", "models.keras", "models.sklearn"):
            assert all(re.fullmatch(config.NAME_PATTERN, str(key)) for key in edited), where
        for key in set(base) & set(edited):
            assert_strict(edited[key], base[key], f"{where}.{key}".lstrip("."))
