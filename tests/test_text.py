"""Text data sets and models: sources, vocabulary, splits, TF-IDF / Conv1D / LSTM, character generation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.config import Conv1dModel, Experiment, LstmModel, TextEncoding, TextSource, TfidfModel, Train
from pipeline.core.errors import PipelineError
from pipeline.datasets import processed, sources, vocabulary
from pipeline.datasets.preprocess import preprocess
from pipeline.evaluation import generation, scores
from pipeline.models import building, families, persistence, prediction, training

TOPICS = {
    "food": "pizza pasta bread cheese soup salad apple cake",
    "law": "judge court lawyer jury trial verdict appeal crime",
    "space": "rocket planet star orbit moon comet galaxy launch",
}


def write_fortunes(directory, per_topic: int = 30, seed: int = 0):
    """One fortune file per topic: `%`-separated entries of that topic's words (plus shared filler)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for topic, words in TOPICS.items():
        entries = [
            " ".join(rng.choice(words.split() + ["the", "a", "of", "and"], size=8)) + "."
            for _ in range(per_topic)
        ]
        (directory / topic).write_text("\n%\n".join(entries) + "\n%\n")
        (directory / f"{topic}.dat").write_bytes(b"\x00index")  # fortune's index: never a document
    return directory


def text_config(path, **overrides) -> TextSource:
    settings = {
        "source": "text",
        "path": str(path),
        "format": "fortune",
        "encoding": {"vocab_size": 50, "max_length": 12},
        **overrides,
    }
    return TextSource.model_validate(settings)


def prepared(tmp_path, cfg: TextSource):
    sources.fetch_raw("tiny_text", cfg, tmp_path / "raw")
    return preprocess("tiny_text", cfg, tmp_path / "raw", seed=0)


# --- vocabulary ----------------------------------------------------------------------------


def test_vocabulary_orders_by_count_then_token_and_reserves_padding_and_unknown():
    encoding = TextEncoding(vocab_size=5, max_length=4)
    vocab = vocabulary.fit(["b a b", "c a b", "d"], encoding)
    assert vocab == ("", "[UNK]", "b", "a", "c")


def test_encode_keeps_the_first_tokens_padded_in_front_and_marks_unknown_words():
    encoding = TextEncoding(vocab_size=10, max_length=4)
    vocab = ("", "[UNK]", "hello", "world")
    x = vocabulary.encode(["Hello, world!", "hello there big wide world"], vocab, encoding)
    assert x.tolist() == [[0, 0, 2, 3], [2, 1, 1, 1]]
    assert vocabulary.decode(x, vocab, "word") == ["hello world", "hello [UNK] [UNK] [UNK]"]
    assert vocabulary.decode(x, vocab, "word", keep_unknown=False) == ["hello world", "hello"]


def test_characters_keep_line_breaks_and_collapse_other_spaces():
    encoding = TextEncoding(tokens="char", lowercase=True)
    assert vocabulary.tokenize("A  b\n\tC", encoding) == ["a", " ", "b", "\n", " ", "c"]


def test_windows_predict_the_next_token():
    x, y = vocabulary.windows(np.arange(10, dtype=np.int32), window=4, stride=3)
    assert x.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6]]
    assert y.tolist() == [4, 7]


def test_next_tokens_are_each_window_shifted_by_one():
    x, y = vocabulary.windows(np.arange(10, dtype=np.int32), window=4, stride=3)
    assert vocabulary.next_tokens(x, y).tolist() == [[1, 2, 3, 4], [4, 5, 6, 7]]


# --- sources -------------------------------------------------------------------------------


def test_fortune_files_become_labelled_documents(tmp_path):
    directory = write_fortunes(tmp_path / "fortunes", per_topic=5)
    (directory / "food").write_text("Bold _\bp_\bi_\bz_\bz_\ba is here\n%\n\n%\nsecond entry\n")
    cfg = text_config(directory, categories=["food", "space"])
    sources.fetch_raw("tiny_text", cfg, tmp_path / "raw")
    raw = sources.read_raw("tiny_text", cfg, tmp_path / "raw")
    assert raw.class_names == ("food", "space")
    assert list(raw.x[:2]) == ["Bold pizza is here", "second entry"]  # overstrike removed, empty skipped
    assert np.bincount(raw.y).tolist() == [2, 5]


def test_folders_and_csv_formats(tmp_path):
    folders = tmp_path / "folders"
    (folders / "pos").mkdir(parents=True)
    (folders / "pos" / "1.txt").write_text("good film")
    (folders / "neg.txt").write_text("bad film\nawful plot\n")
    cfg = text_config(folders, format="folders")
    sources.fetch_raw("f", cfg, tmp_path / "raw_folders")
    raw = sources.read_raw("f", cfg, tmp_path / "raw_folders")
    assert raw.class_names == ("neg", "pos") and list(raw.x) == ["bad film", "awful plot", "good film"]

    table = tmp_path / "reviews.csv"
    table.write_text('review,stars\n"great, really",5\nmeh,1\n')
    cfg = text_config(table, format="csv", text_column="review", label_column="stars")
    sources.fetch_raw("c", cfg, tmp_path / "raw_csv")
    raw = sources.read_raw("c", cfg, tmp_path / "raw_csv")
    assert raw.class_names == ("1", "5") and list(raw.x) == ["meh", "great, really"]


def test_text_source_errors_name_the_fix(tmp_path):
    with pytest.raises(PipelineError, match="sudo apt-get install fortunes"):
        sources.fetch_raw("t", text_config(tmp_path / "missing", package="fortunes"), tmp_path / "raw")
    directory = write_fortunes(tmp_path / "fortunes", per_topic=3)
    with pytest.raises(PipelineError, match="nope not found.*available: food, law, space"):
        sources.fetch_raw("t", text_config(directory, categories=["food", "nope"]), tmp_path / "raw")
    table = tmp_path / "t.csv"
    table.write_text("body,label\nx,1\n")
    with pytest.raises(PipelineError, match="no column.*text.*set text_column"):
        sources.fetch_raw("t", text_config(table, format="csv"), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
    with pytest.raises(ValueError, match="character-level"):
        text_config(directory, task="language_model")


# --- preprocessing -------------------------------------------------------------------------


def test_classification_vocabulary_comes_from_the_training_split_only(tmp_path):
    directory = write_fortunes(tmp_path / "fortunes")
    (directory / "law").write_text((directory / "law").read_text() + "zebra zebra zebra\n%\n")
    data = prepared(tmp_path, text_config(directory))
    schema = data.schema
    assert (schema.layout, schema.task, schema.input_shape, schema.n_classes) == (
        "text",
        "classification",
        (12,),
        3,
    )
    assert data.train.x.dtype == np.int32 and data.train.x.shape[1] == 12
    train_words = set(" ".join(vocabulary.decode(data.train.x, schema.vocabulary, "word")).split())
    assert set(schema.vocabulary[2:]) <= train_words
    in_train = "zebra" in train_words
    assert ("zebra" in schema.vocabulary) == in_train


def test_processed_text_round_trips_with_its_vocabulary(tmp_path):
    data = prepared(tmp_path, text_config(write_fortunes(tmp_path / "fortunes")))
    processed.save(tmp_path / "processed", data)
    loaded = processed.load(tmp_path / "processed")
    assert loaded.schema.vocabulary == data.schema.vocabulary and loaded.schema.tokens == "word"
    np.testing.assert_array_equal(loaded.test.x, data.test.x)


def test_language_model_splits_by_document_into_character_windows(tmp_path):
    cfg = text_config(
        write_fortunes(tmp_path / "fortunes"),
        task="language_model",
        encoding={"tokens": "char", "vocab_size": 40},
        window=10,
        stride=2,
        split={"val_size": 0.1, "test_size": 0.1},
    )
    data = prepared(tmp_path, cfg)
    schema = data.schema
    assert schema.task == "language_model" and schema.is_categorical
    assert schema.n_classes == len(schema.vocabulary) <= 40 and schema.input_shape == (10,)
    assert schema.extra["documents"] == [72, 9, 9]  # 90 entries, 10 % each for val and test
    np.testing.assert_array_equal(data.train.x[1, :-2], data.train.x[0, 2:])  # overlapping windows
    assert data.train.y[0] == data.train.x[1, -3]


# --- models --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def topics(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("topics")
    return prepared(tmp, text_config(write_fortunes(tmp / "fortunes", per_topic=80)))


def experiment_for(model_cfg, backend: str, epochs: int = 8) -> Experiment:
    return Experiment(
        name=f"tiny-{model_cfg.family}",
        seed=0,
        dataset="tiny_text",
        backend=backend,
        dataset_config=text_config("/unused"),
        model_name=model_cfg.family,
        model=model_cfg,
        train=Train(
            epochs=epochs, batch_size=16, early_stopping_patience=0, optimizer={"learning_rate": 0.01}
        ),
    )


@pytest.mark.parametrize(
    "model_cfg",
    [
        TfidfModel(family="tfidf", analyzer="word", ngram_range=(1, 2)),
        TfidfModel(family="tfidf", analyzer="char_wb", ngram_range=(2, 4), estimator="linear_svc"),
    ],
    ids=["words-logreg", "chars-linear_svc"],
)
def test_tfidf_baselines_learn_topics_and_survive_save_and_load(topics, tmp_path, model_cfg):
    result = training.fit(experiment_for(model_cfg, "sklearn"), topics)
    accuracy = (
        prediction.predict(result.model, topics.test.x, topics.schema).argmax(1) == topics.test.y
    ).mean()
    assert accuracy > 0.9
    persistence.save(result.model, tmp_path / "model", result.hyperparameters)
    loaded = persistence.load(tmp_path / "model")  # skops: only trusted types, our ids_to_text included
    np.testing.assert_array_equal(
        prediction.predict(loaded, topics.test.x, topics.schema),
        prediction.predict(result.model, topics.test.x, topics.schema),
    )


@pytest.mark.parametrize(
    "model_cfg",
    [
        Conv1dModel(family="conv1d", embedding_dim=8, filters=[16], kernel_size=3, dense_units=[8]),
        LstmModel(family="lstm", embedding_dim=8, units=[8], bidirectional=True),
    ],
    ids=["conv1d", "lstm"],
)
@pytest.mark.e2e
def test_keras_text_models_learn_topics(topics, model_cfg):
    result = training.fit(experiment_for(model_cfg, "keras", epochs=15), topics)
    assert result.model.inputs[0].dtype == "int32"
    accuracy = (
        prediction.predict(result.model, topics.test.x, topics.schema).argmax(1) == topics.test.y
    ).mean()
    assert accuracy > 2 / 3  # chance is 1/3


def test_text_only_families_refuse_other_layouts(topics):
    from tests.conftest import make_data

    with pytest.raises(PipelineError, match="conv1d needs text data"):
        building.check_compatible(Conv1dModel(family="conv1d"), make_data().schema, name="c")
    with pytest.raises(PipelineError, match="tfidf needs text data"):
        building.check_compatible(TfidfModel(family="tfidf"), make_data().schema, name="t")


# --- generation and language-model metrics -------------------------------------------------


@pytest.fixture(scope="module")
def characters(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("characters")
    cfg = text_config(
        write_fortunes(tmp / "fortunes", per_topic=40),
        task="language_model",
        encoding={"tokens": "char", "vocab_size": 40},
        window=12,
        stride=12,
        split={"val_size": 0.1, "test_size": 0.1},
    )
    return prepared(tmp, cfg)


@pytest.mark.e2e
def test_lstm_language_model_learns_every_step_and_predicts_the_next_character(characters, tmp_path):
    model_cfg = LstmModel(family="lstm", embedding_dim=8, units=[32])
    schema = characters.schema
    assert families.trains_every_step(model_cfg, schema)
    assert building.build(model_cfg, schema, seed=0).output.shape == (None, 12, schema.n_classes)
    result = training.fit(experiment_for(model_cfg, "keras", epochs=6), characters)
    assert result.history[-1]["accuracy"] > 0.4  # over every position; the commonest character is 0.17
    persistence.save(result.model, tmp_path / "model", result.hyperparameters)
    predicted = prediction.predict(persistence.load(tmp_path / "model"), characters.test.x, schema)
    assert predicted.shape == (len(characters.test.x), schema.n_classes)  # the next character only
    np.testing.assert_allclose(predicted.sum(1), 1.0, rtol=1e-5)
    unigram = scores.unigram_bits_per_char(characters.train.y, characters.test.y, schema.n_classes)
    assert scores.language_model_metrics(characters.test.y, predicted)["bits_per_char"] < unigram


def test_a_language_model_refuses_to_read_backwards(characters):
    backwards = LstmModel(family="lstm", bidirectional=True)
    with pytest.raises(PipelineError, match="reads left to right"):
        building.check_compatible(backwards, characters.schema, name="char_lstm")


def test_temperature_sharpens_or_flattens_without_reordering():
    p = np.array([0.1, 0.2, 0.7])
    cold, hot = generation.reweight(p, 0.2), generation.reweight(p, 5.0)
    assert cold[2] > 0.99 and np.allclose(generation.reweight(p, 1.0), p)
    assert hot.max() - hot.min() < p.max() - p.min() and np.argsort(hot).tolist() == [0, 1, 2]


def test_generation_never_draws_padding_or_unknown_and_is_seeded():
    vocab = ("", "[UNK]", "a", "b")

    def predict(batch):
        return np.tile([0.5, 0.3, 0.1, 0.1], (len(batch), 1))

    first = generation.generate(predict, np.array([2, 3]), vocab, temperature=1.0, length=50, seed=1)
    assert set(first) <= {"a", "b"} and len(first) == 50
    assert first == generation.generate(predict, np.array([2, 3]), vocab, temperature=1.0, length=50, seed=1)


def test_language_model_metrics_are_in_bits_and_the_unigram_baseline_ignores_context():
    y = np.array([2, 3, 2, 2])
    uniform = np.full((4, 4), 0.25)
    metrics = scores.language_model_metrics(y, uniform)
    assert metrics["bits_per_char"] == pytest.approx(2.0) and metrics["perplexity"] == pytest.approx(4.0)
    train_y = np.array([2] * 98 + [3] * 2)  # add-one smoothing over 4 ids: p(2) = 99/104
    assert scores.unigram_bits_per_char(train_y, np.array([2]), 4) == pytest.approx(-math.log2(99 / 104))
