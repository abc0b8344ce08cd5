"""The keras_npz source: IMDB / Reuters `.npz` files fetched, re-verified and decoded like Keras does."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import download, sources
from pipeline.datasets.sources import keras_npz

WORD_INDEX = {"the": 1, "movie": 2, "was": 3, "great": 4, "bad": 5, "plot": 6, "a": 7, "topic": 8}
RAW_FILES = ["data.npz", "meta.json", "word_index.json"]
CLOSED = "http://127.0.0.1:9/canonical"  # nothing listens: a fetch that gets here fails


def ragged(*sequences: list[int]) -> np.ndarray:
    """An object array of lists, as Keras stores its word-id sequences."""
    array = np.empty(len(sequences), dtype=object)
    array[:] = [list(s) for s in sequences]
    return array


IMDB = {
    "x_train": ragged([1, 2, 3, 4], [1, 6, 3, 5], [7, 4, 2], [2, 3, 5, 5], [1, 2], [4]),
    "y_train": np.array([1, 0, 1, 0, 1, 1]),
    "x_test": ragged([6, 3, 4], [1, 2, 3, 5], [5], [7, 2]),
    "y_test": np.array([1, 0, 0, 1]),
}
REUTERS = {
    "x": ragged(*([i % 8 + 1, (3 * i) % 8 + 1, 8] for i in range(11))),
    "y": np.array([3, 4, 3, 19, 4, 3, 45, 3, 4, 19, 0]),
}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)


def write_set(directory: Path, which: str, arrays: dict, base: str = CLOSED) -> dict:
    """Write `<which>.npz` and `<which>_word_index.json`; return the `files:` section pinning them."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / f"{which}.npz", **arrays)
    index = directory / f"{which}_word_index.json"
    index.write_text(json.dumps(WORD_INDEX))
    return {
        "data": {"url": f"{base}/{which}.npz", "sha256": storage.sha256_file(directory / f"{which}.npz")},
        "word_index": {"url": f"{base}/{index.name}", "md5": hashlib.md5(index.read_bytes()).hexdigest()},
    }


def npz_config(which: str, files: dict, mirror: str | None = None, **extra) -> config.KerasNpzSource:
    return config.KerasNpzSource(source="keras_npz", name=which, files=files, mirror=mirror, **extra)


def keras_load_data(which: str, arrays: dict):
    """Keras' load_data (defaults: seed 113, start_char 1, index_from 3, Reuters test_split 0.2)
    transcribed, with its output decoded as its docs show (ids - 3 through the word index, 0-2 skipped)."""
    rng = np.random.RandomState(113)

    def shuffled(x, y):
        indices = np.arange(len(x))
        rng.shuffle(indices)
        return [[1] + [w + 3 for w in seq] for seq in x[indices]], y[indices]

    if which == "imdb":
        train = shuffled(arrays["x_train"], arrays["y_train"])
        test = shuffled(arrays["x_test"], arrays["y_test"])
    else:
        xs, labels = shuffled(arrays["x"], arrays["y"])
        cut = int(len(xs) * (1 - 0.2))
        train, test = (xs[:cut], labels[:cut]), (xs[cut:], labels[cut:])
    inverted = {rank + 3: word for word, rank in WORD_INDEX.items()}

    def decoded(x, y):
        return [" ".join(inverted[i] for i in seq if i >= 3) for seq in x], list(y)

    return decoded(*train), decoded(*test)


def fetch_and_read(which: str, arrays: dict, http_server, tmp_path: Path, **extra):
    base, served, _ = http_server
    files = write_set(served, which, arrays, base)
    cfg = npz_config(which, files, **extra)
    sources.fetch_raw(which, cfg, tmp_path / "raw")
    return sources.read_raw(which, cfg, tmp_path / "raw")


def test_imdb_is_fetched_and_decoded_as_keras_orders_it(http_server, tmp_path):
    raw = fetch_and_read("imdb", IMDB, http_server, tmp_path)
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == RAW_FILES
    assert storage.read_json(tmp_path / "raw" / "meta.json") == {
        "source": "keras_npz",
        "task": "classification",
        "layout": "text",
        "name": "imdb",
    }
    (train_docs, train_labels), (test_docs, test_labels) = keras_load_data("imdb", IMDB)
    assert (raw.task, raw.layout, raw.class_names) == ("classification", "text", ("negative", "positive"))
    assert raw.x.dtype == object and raw.test[0].dtype == object  # in memory only: never saved, so no pickle
    assert raw.y.dtype == np.int64 and raw.test[1].dtype == np.int64
    assert raw.x.tolist() == train_docs and raw.y.tolist() == train_labels
    assert raw.test[0].tolist() == test_docs and raw.test[1].tolist() == test_labels
    assert sorted(zip(raw.x.tolist(), raw.y.tolist(), strict=True)) == sorted(
        [("a great movie", 1), ("movie was bad bad", 0), ("the movie", 1), ("great", 1)]
        + [("the movie was great", 1), ("the plot was bad", 0)]
    )


def test_reuters_is_split_like_keras(http_server, tmp_path):
    raw = fetch_and_read("reuters", REUTERS, http_server, tmp_path)
    (train_docs, train_labels), (test_docs, test_labels) = keras_load_data("reuters", REUTERS)
    assert len(raw.x) == 8 and len(raw.test[0]) == 3
    assert raw.x.tolist() == train_docs and raw.y.tolist() == train_labels
    assert raw.test[0].tolist() == test_docs and raw.test[1].tolist() == test_labels
    assert raw.class_names == keras_npz.REUTERS_TOPICS and len(raw.class_names) == 46


def test_reuters_topics_match_keras_source():
    spec = importlib.util.find_spec("keras")
    if spec is None:
        pytest.skip("keras not installed")
    source = Path(spec.origin).parent / "src" / "datasets" / "reuters.py"
    functions = {n.name: n for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.FunctionDef)}
    returned = next(n for n in ast.walk(functions["get_label_names"]) if isinstance(n, ast.Return))
    assert ast.literal_eval(returned.value) == keras_npz.REUTERS_TOPICS


def test_configured_class_names_are_used_and_checked(http_server, tmp_path):
    raw = fetch_and_read("imdb", IMDB, http_server, tmp_path, class_names=["neg", "pos"])
    assert raw.class_names == ("neg", "pos")
    cfg = npz_config("imdb", write_set(tmp_path / "again", "imdb", IMDB), class_names=["only"])
    with pytest.raises(PipelineError, match="labels run from 0 to 1 but 1 class names"):
        sources.read_raw("imdb", cfg, tmp_path / "raw")


def test_wrong_digest_served_writes_nothing(http_server, tmp_path):
    base, served, _ = http_server
    files = write_set(served, "imdb", IMDB, base)
    files["data"]["sha256"] = "0" * 64
    with pytest.raises(download.ChecksumError, match="imdb.npz.*expected sha256 0{64}"):
        sources.fetch_raw("imdb", npz_config("imdb", files), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_tampered_raw_file_is_never_unpickled(http_server, tmp_path):
    base, served, _ = http_server
    cfg = npz_config("imdb", write_set(served, "imdb", IMDB, base))
    raw_dir = tmp_path / "raw"
    sources.fetch_raw("imdb", cfg, raw_dir)

    class Payload:
        def __init__(self, marker: Path):
            self.marker = marker

        def __reduce__(self):
            return open, (str(self.marker), "w")  # unpickling creates the marker file

    probe = tmp_path / "probe"  # the payload works: loading it unchecked runs it
    probe.write_bytes(pickle.dumps(Payload(tmp_path / "probe_ran")))
    np.load(probe, allow_pickle=True).close()
    assert (tmp_path / "probe_ran").exists()

    marker = tmp_path / "payload_ran"
    (raw_dir / "data.npz").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(download.ChecksumError, match=r"data.npz.*not loaded.*dvc repro -f download@imdb"):
        sources.read_raw("imdb", cfg, raw_dir)
    assert not marker.exists()


def test_data_pinned_by_md5_is_refused(tmp_path):
    mirror = tmp_path / "mirror"
    files = write_set(mirror, "imdb", IMDB)
    files["data"] = {"url": files["data"]["url"], "md5": "0" * 32}
    with pytest.raises(PipelineError, match=r"files.data needs a sha256"):
        sources.fetch_raw("imdb", npz_config("imdb", files, mirror=str(mirror)), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_local_mirror_is_used_before_the_url(http_server, tmp_path):
    base, served, server = http_server
    files = write_set(served, "imdb", IMDB, base)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for path in served.iterdir():
        (mirror / path.name).write_bytes(path.read_bytes())
    cfg = npz_config("imdb", files, mirror=str(mirror))
    sources.fetch_raw("imdb", cfg, tmp_path / "raw")
    assert server.hits == []
    assert len(sources.read_raw("imdb", cfg, tmp_path / "raw").x) == 6


@pytest.mark.parametrize("missing", ["data.npz", "word_index.json"])
def test_missing_raw_file_names_the_fix(tmp_path, missing):
    cfg = npz_config("imdb", write_set(tmp_path / "mirror", "imdb", IMDB), mirror=str(tmp_path / "mirror"))
    sources.fetch_raw("imdb", cfg, tmp_path / "raw")
    (tmp_path / "raw" / missing).unlink()
    with pytest.raises(PipelineError, match=f"{missing}.*dvc repro -f download@imdb"):
        sources.read_raw("imdb", cfg, tmp_path / "raw")


def test_npz_without_the_expected_arrays_is_refused(tmp_path):
    arrays = {"x_train": IMDB["x_train"], "y_train": IMDB["y_train"]}
    cfg = npz_config("imdb", write_set(tmp_path / "mirror", "imdb", arrays), mirror=str(tmp_path / "mirror"))
    sources.fetch_raw("imdb", cfg, tmp_path / "raw")
    with pytest.raises(PipelineError, match="lacks the array.*x_test, y_test"):
        sources.read_raw("imdb", cfg, tmp_path / "raw")


def test_word_id_missing_from_the_index_is_refused(tmp_path):
    arrays = {**REUTERS, "x": ragged(*([9] for _ in range(11)))}
    mirror = tmp_path / "mirror"
    cfg = npz_config("reuters", write_set(mirror, "reuters", arrays), mirror=str(mirror))
    sources.fetch_raw("reuters", cfg, tmp_path / "raw")
    with pytest.raises(PipelineError, match="word id 9 .*not in word_index.json"):
        sources.read_raw("reuters", cfg, tmp_path / "raw")
