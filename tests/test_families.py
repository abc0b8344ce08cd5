"""pipeline.models.families: every family declared once builds on the data it accepts, refuses the
rest with the fix, and a new family is one entry plus its builder."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.tree import DecisionTreeClassifier

from pipeline import config
from pipeline.backends.sklearn import baselines, face_completion
from pipeline.config import (
    CnnModel,
    Conv1dModel,
    DnnModel,
    Experiment,
    FaceCompletionModel,
    LstmModel,
    SklearnModel,
    SklearnSource,
    TfidfModel,
    TransferModel,
)
from pipeline.config.models import ModelSettings
from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import Layout, Schema
from pipeline.models import building, families, params_check, persistence, prediction, training
from pipeline.models.backends import BACKENDS
from pipeline.models.families import FAMILIES, Family, KerasBuilder
from pipeline.workflow.fingerprints import ImportGraph
from tests.conftest import make_data

TINY = {  # one small settings per family
    "sklearn": SklearnModel(family="sklearn", estimator="logistic_regression"),
    "face_completion": FaceCompletionModel(family="face_completion", estimator="ridge"),
    "tfidf": TfidfModel(family="tfidf"),
    "dnn": DnnModel(family="dnn", hidden_units=[4]),
    "cnn": CnnModel(family="cnn", filters=[4], dense_units=[4]),
    "lstm": LstmModel(family="lstm", units=[4], embedding_dim=4),
    "conv1d": Conv1dModel(family="conv1d", embedding_dim=4, filters=[4], dense_units=[4]),
    "transfer": TransferModel(family="transfer", alpha=0.35, input_size=32),
}
SHAPES = {"image": (8, 8, 1), "tabular": (4,), "sequence": (6, 1), "text": (12,)}


def schema(layout: Layout, task: str = "classification") -> Schema:
    categorical = task in ("classification", "language_model")
    return Schema(
        dataset=f"tiny_{layout}",
        task=task,
        layout=layout,
        input_shape=SHAPES[layout],
        n_classes=3 if categorical else None,
        vocabulary=("<pad>", "<unk>", "a", "b") if layout == "text" else None,
        tokens="word" if layout == "text" else None,
    )


def refused_layouts() -> list[tuple[str, str]]:
    return [(name, layout) for name, f in FAMILIES.items() for layout in SHAPES if layout not in f.layouts]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_builds_a_model_of_its_backend_on_data_it_accepts(name):
    family = families.get(name)
    accepted = schema(family.layouts[0], family.tasks[0])
    model = building.build(TINY[name], accepted, seed=0)
    assert family.backend.owns(model)  # so its flavor logs it and its backend saves it
    assert family.flavor == family.settings.backend
    if family.backend.name == "keras":
        assert model.output.shape[-1] == 3


@pytest.mark.parametrize(("name", "layout"), refused_layouts())
def test_every_family_refuses_data_it_does_not_accept_naming_the_fix(name, layout):
    with pytest.raises(PipelineError, match=f"{name} needs .* data: pair it with such a dataset") as error:
        building.build(TINY[name], schema(layout), seed=0)
    fitting = [other for other, f in FAMILIES.items() if layout in f.layouts]
    assert f"or use a model for {layout} data (family {', '.join(sorted(fitting))})" in str(error.value)


@pytest.mark.parametrize(
    ("name", "layout", "fix"),
    [("tfidf", "text", "use an lstm model"), ("transfer", "image", "use a cnn model")],
)
def test_families_of_one_task_refuse_the_others_naming_the_fix(name, layout, fix):
    with pytest.raises(PipelineError, match=f"{name} needs a classification task, not regression: .*{fix}"):
        building.check_compatible(TINY[name], schema(layout, "regression"))


def test_an_unknown_family_lists_the_known_ones():
    with pytest.raises(PipelineError, match="unknown model family 'gru': use one of cnn, conv1d, dnn"):
        families.get("gru")


def test_the_configs_unions_are_the_registrys_settings():
    for backend in BACKENDS:
        union = config.KerasModelConfig if backend == "keras" else config.SklearnModelConfig
        members = set(get_args(get_args(union)[0]))
        assert members == {f.settings for f in FAMILIES.values() if f.backend.name == backend}
    assert {f.settings for f in FAMILIES.values()} <= set(ModelSettings.__subclasses__())


def test_the_backends_are_the_configs_and_the_packages():
    assert set(BACKENDS) == set(get_args(config.Backend)) == set(ImportGraph().backends())


def test_a_model_of_no_known_backend_is_refused_by_name(tmp_path):
    with pytest.raises(PipelineError, match="a object is no model of a known backend"):
        persistence.save(object(), tmp_path, {})


@pytest.mark.parametrize("name", sorted(n for n, f in FAMILIES.items() if isinstance(f.build, KerasBuilder)))
def test_keras_builders_take_every_setting_and_default_none(name):
    """The settings classes hold the defaults: a builder's own default could silently differ."""
    from pipeline.backends.keras import builders

    family = families.get(name)
    parameters = inspect.signature(getattr(builders, family.build.name)).parameters
    for setting in set(family.settings.model_fields) - {"family"}:
        assert parameters[setting].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[setting].default is inspect.Parameter.empty, f"{name}: {setting} has a default"


# --- one name, one estimator -------------------------------------------------------------------


@pytest.mark.parametrize("name", get_args(config.FACE_COMPLETION_ESTIMATORS))
def test_a_face_completion_estimator_is_the_one_its_name_means_everywhere(name):
    face = building.build(
        FaceCompletionModel(family="face_completion", estimator=name), schema("image"), seed=0
    )
    plain = building.build(
        SklearnModel(family="sklearn", estimator=name), schema("tabular", "regression"), seed=0
    )
    assert type(face[-1]) is type(plain[-1]) is baselines.ESTIMATORS[name].estimator


@pytest.mark.parametrize("name", ["knn", "extra_trees"])
def test_a_classifiers_name_is_no_face_completion_estimator(name):
    with pytest.raises(ValueError, match=f"Input should be .*'{name}_regressor'"):
        FaceCompletionModel(family="face_completion", estimator=name)
    with pytest.raises(PipelineError, match=f"estimator '{name}' cannot: use one of .*{name}_regressor"):
        face_completion.build(name, {}, seed=0)


# --- a new family ------------------------------------------------------------------------------


class TinyTreeModel(ModelSettings):
    """A throwaway family: a shallow decision tree on flattened inputs."""

    backend: ClassVar[config.Backend] = "sklearn"
    family: Literal["tiny_tree"]
    max_depth: config.PositiveInt = 2


def build_tiny_tree(model_cfg: TinyTreeModel, schema: Schema, seed: int, n_jobs: int | None) -> Any:
    tree = DecisionTreeClassifier(max_depth=model_cfg.max_depth, random_state=seed)
    return Pipeline([("flatten", FunctionTransformer(baselines.flatten)), ("estimator", tree)])


def test_a_new_family_is_one_entry_and_its_builder(monkeypatch, tmp_path):
    monkeypatch.setitem(FAMILIES, "tiny_tree", Family(TinyTreeModel, ("tabular",), build_tiny_tree))
    model_cfg = TinyTreeModel(family="tiny_tree", max_depth=3)
    data = make_data(layout="tabular")
    experiment = Experiment(
        name="tiny",
        seed=0,
        dataset="tiny",
        backend="sklearn",
        dataset_config=SklearnSource(source="sklearn", name="iris"),
        model_name="tree",
        model=TINY["sklearn"],
    ).model_copy(update={"model": model_cfg})  # the params' unions know only the project's families

    params_check.check_sklearn(model_cfg, n_jobs=1)
    result = training.fit(experiment, data)
    assert result.model[-1].max_depth == 3
    predicted = prediction.predict(result.model, data.test.x, data.schema)
    assert predicted.shape == (16, 3)
    persistence.save(result.model, tmp_path, result.hyperparameters)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hyperparameters.json", "model.skops"]
    np.testing.assert_array_equal(
        prediction.predict(persistence.load(tmp_path), data.test.x, data.schema), predicted
    )
    assert families.get("tiny_tree").flavor == "sklearn"
    with pytest.raises(
        PipelineError, match=r"model 'tree' \(family tiny_tree\).*tiny_tree needs tabular data"
    ):
        building.check_compatible(model_cfg, make_data(layout="image").schema, name="tree")


def test_the_registry_loads_no_backend_and_a_sklearn_model_never_loads_keras(tmp_path):
    code = (
        "import sys\n"
        "from pipeline.models import building, families, persistence, prediction\n"
        "print(sorted({'keras', 'tensorflow', 'sklearn', 'skops'} & set(sys.modules)))\n"
        "from pipeline.config import SklearnModel\n"
        "from tests.conftest import make_data\n"
        "data = make_data('regression', 'tabular')\n"
        "model = building.build(SklearnModel(family='sklearn', estimator='ridge'), data.schema, seed=0)\n"
        f"persistence.save(model.fit(data.train.x, data.train.y), {str(tmp_path)!r}, {{}})\n"
        f"prediction.predict(persistence.load({str(tmp_path)!r}), data.test.x, data.schema)\n"
        "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "[]"]
