"""The `datasets:` section: one entry per data set, each of one source kind."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from pipeline.config.base import Md5, PositiveInt, Section, Sha256, Share, TabularTask
from pipeline.core.urls import mask_uri


class Split(Section):
    val_size: Share = 0.15
    test_size: Share = 0.2

    @model_validator(mode="after")
    def _leaves_training_data(self) -> Split:
        if self.val_size + self.test_size >= 0.9:
            raise ValueError(
                f"val_size + test_size = {self.val_size + self.test_size:.2f} leaves too little to train on "
                "(must be below 0.9)"
            )
        return self


class SklearnSource(Section):
    """A data set bundled with scikit-learn (no download)."""

    source: Literal["sklearn"]
    name: Literal["digits", "iris", "wine", "breast_cancer"]
    split: Split = Split()


class RemoteFile(Section):
    """One file of a remote data set: where it lives and the digest of its bytes.

    `sha256` is of the payload (a `.gz` file decompressed, unless the source keeps it whole). `md5`
    only where upstream publishes nothing stronger (Keras' word-index JSON files): give one of them.
    """

    url: str
    sha256: Sha256 | None = None
    md5: Md5 | None = None

    @model_validator(mode="after")
    def _one_digest(self) -> RemoteFile:
        if (self.sha256 is None) == (self.md5 is None):
            raise ValueError("give exactly one of sha256 and md5 (the pinned digest of the file)")
        return self


class Mirrored(Section):
    """A remote data set that a mirror can serve: `mirror` (a directory, file:// or http(s):// base)
    is tried before the canonical URLs; PIPELINE_MIRROR_<DATASET> overrides it. `mirror_package`
    names a Debian package that installs the files into `mirror`."""

    mirror: str | None = None
    mirror_package: str | None = None


def _require_files(files: dict[str, RemoteFile], roles: tuple[str, ...]) -> None:
    missing = set(roles) - set(files)
    if missing:
        raise ValueError(f"files is missing {sorted(missing)}")


class IdxSource(Mirrored):
    """MNIST-format IDX files (`.gz` or plain), fetched from a mirror or their canonical URLs.

    `files` maps the roles train_images / train_labels / test_images / test_labels to a RemoteFile.
    """

    source: Literal["idx"]
    files: dict[Literal["train_images", "train_labels", "test_images", "test_labels"], RemoteFile]
    class_names: list[str] | None = None
    split: Split = Split(val_size=0.1, test_size=0.2)  # test_size unused: IDX sets ship their test split

    @model_validator(mode="after")
    def _has_all_files(self) -> IdxSource:
        _require_files(self.files, ("train_images", "train_labels", "test_images", "test_labels"))
        return self


class StatsmodelsSource(Section):
    """A time series bundled with statsmodels, windowed for one-step-ahead forecasting."""

    source: Literal["statsmodels"]
    name: Literal["sunspots", "co2"]
    window: PositiveInt = 12
    split: Split = Split()


class TableSplit(Split):
    """A table's split. With a `time` column it is chronological: test is the newest `test_size`
    share of the rows, or the newest `test_window` (a number of rows, or a span of the dates such as
    "365D", "8W", "12h"), and val the `val_size` share just before it."""

    test_window: PositiveInt | Annotated[str, Field(pattern=r"^[1-9][0-9]*(W|D|h|min|s)$")] | None = None


class TableFields(Section):
    """What every table source shares: a target column, the task and the columns to learn from.

    Classification / regression use `features` (default: every column but `target` and `time`) less
    `drop`; string columns among them are encoded by `categorical`, fitted on the training split. A
    forecast's windows hold the target's history plus that of each of `features` (default: none).
    """

    target: str
    task: TabularTask = "classification"
    time: str | None = None
    features: list[str] | None = None
    drop: list[str] = []
    categorical: Literal["onehot", "ordinal"] = "onehot"
    window: PositiveInt = 12
    split: TableSplit = TableSplit()

    @model_validator(mode="after")
    def _forecast_needs_order(self) -> TableFields:
        if self.task == "forecast" and self.time is None:
            raise ValueError("task 'forecast' needs a `time` column to order the series by")
        if self.split.test_window is not None and self.time is None:
            raise ValueError("split.test_window needs a `time` column: name it, or give test_size instead")
        return self

    @model_validator(mode="after")
    def _columns_consistent(self) -> TableFields:
        if self.features is not None and self.drop:
            raise ValueError("give `features` (columns to use) or `drop` (columns to leave out), not both")
        if self.task == "forecast" and self.drop:
            raise ValueError("a forecast uses the target and the columns listed in `features`: remove `drop`")
        for key in ("features", "drop"):
            listed = getattr(self, key) or []
            for column, role in ((self.target, "target"), (self.time, "time")):
                if column in listed:
                    raise ValueError(f"{key} lists {column!r}, the {role} column: remove it from {key}")
        return self


class CsvSource(TableFields):
    """A user's CSV file (local path, or http(s) URL with a pinned `sha256`) with a target column."""

    source: Literal["csv"]
    path: str
    sha256: Sha256 | None = None


TableFormat = Literal["csv", "parquet"]


class HttpSource(TableFields):
    """A table at an http(s) URL that is updated in place; no pinned digest. A change is seen by its
    ETag, else its Last-Modified date, else the sha256 of its bytes. `format` defaults to the URL's suffix."""

    source: Literal["http"]
    url: str
    format: TableFormat | None = None

    @field_validator("url")
    @classmethod
    def _is_http(cls, url: str) -> str:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"must be an http(s):// URL, got {mask_uri(url)!r}")
        return url

    @property
    def table_format(self) -> TableFormat:
        if self.format is not None:
            return self.format
        return "parquet" if urlsplit(self.url).path.endswith(".parquet") else "csv"


class SqlSource(TableFields):
    """The result of a SELECT through SQLAlchemy (PostgreSQL, SQLite). `url` holds no password (the
    driver reads it from its own environment, e.g. PGPASSWORD), or `url_env` names an environment
    variable that holds the whole URL. `check_query` answers "did it change?" cheaply (default: the
    row count and latest `time`, else a hash of the whole result)."""

    source: Literal["sql"]
    url: str | None = None
    url_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    query: str
    check_query: str | None = None

    @model_validator(mode="after")
    def _one_location(self) -> SqlSource:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env (an environment variable holding the URL)")
        if self.url is not None and mask_uri(self.url) != self.url:
            raise ValueError(
                f"url holds a password ({mask_uri(self.url)}): put the URL in an environment variable "
                "and name it in url_env, or let the driver read the password (e.g. PGPASSWORD)"
            )
        return self


class FolderSource(TableFields):
    """A local folder that grows: the files matching `pattern` (csv or parquet), concatenated in
    file-name order. A change is a file added, removed, resized or touched."""

    source: Literal["folder"]
    path: str
    pattern: str = "*.csv"


LIVE_SOURCES = ("http", "sql", "folder")  # kinds checked for new data by the `sources` stage


class Refresh(Section):
    """How live sources are asked for new data (PIPELINE_REFRESH=1: `make refresh`, `make retrain`):
    each check gives up after `timeout_seconds`."""

    timeout_seconds: Annotated[float, Field(gt=0, le=300, strict=False)] = 10.0


class TextEncoding(Section):
    """How documents become token ids (the vocabulary is fitted on the training split only).

    Ids: 0 is padding, 1 an unknown token, then the `vocab_size - 2` commonest training tokens.
    Classification documents are cut to their first `max_length` tokens and padded in front.
    """

    tokens: Literal["word", "char"] = "word"
    vocab_size: Annotated[int, Field(ge=3)] = 10_000
    max_length: PositiveInt = 200
    lowercase: bool = True
    min_count: PositiveInt = 1  # rarer training tokens become unknown


class TextSource(Section):
    """Labelled documents: a CSV (text + label columns), a directory with one sub-directory or file per
    label, or fortune files (`%`-separated entries, one file per label).

    `task: language_model` ignores the labels: documents are split (by document, so no text is shared
    between splits) and cut into windows of `window` tokens, each predicting the next token.
    """

    source: Literal["text"]
    path: str
    format: Literal["csv", "folders", "fortune"]
    text_column: str = "text"  # csv
    label_column: str = "label"  # csv
    categories: list[str] | None = None  # labels to keep (file / sub-directory / CSV label); None: all
    package: str | None = None  # a Debian package that installs `path`
    task: Literal["classification", "language_model"] = "classification"
    encoding: TextEncoding = TextEncoding()
    window: PositiveInt = 40  # language_model: tokens of context per sample
    stride: PositiveInt = 3  # language_model: tokens between the starts of consecutive windows
    split: Split = Split()

    @model_validator(mode="after")
    def _character_language_model(self) -> TextSource:
        if self.task == "language_model" and self.encoding.tokens != "char":
            raise ValueError("task language_model is character-level: set encoding.tokens to char")
        return self

    @model_validator(mode="after")
    def _categories_are_file_names(self) -> TextSource:
        if self.format == "csv":
            return self
        for category in self.categories or ():
            if not category or category in (".", "..") or "/" in category or "\\" in category:
                raise ValueError(
                    f"categories: {category!r} is not a file or folder name inside `path` (no separators)"
                )
        return self


class KerasNpzSource(Mirrored):
    """IMDB / Reuters in Keras' `.npz` layout (word-id sequences) plus their word-index JSON.

    `files` maps `data` and `word_index` to a RemoteFile; the ids are turned back into words and
    encoded like any text data set, so `encoding` applies (vocabulary fitted on train only).
    """

    source: Literal["keras_npz"]
    name: Literal["imdb", "reuters"]
    files: dict[Literal["data", "word_index"], RemoteFile]
    encoding: TextEncoding = TextEncoding()
    class_names: list[str] | None = None
    split: Split = Split(val_size=0.1, test_size=0.2)  # test_size unused: both ship a test split

    @model_validator(mode="after")
    def _has_all_files(self) -> KerasNpzSource:
        _require_files(self.files, ("data", "word_index"))
        return self


class CifarSource(Mirrored):
    """CIFAR-10 / CIFAR-100 from the canonical **binary** archive (no pickle), extracted safely."""

    source: Literal["cifar"]
    name: Literal["cifar10", "cifar100"]
    archive: RemoteFile
    label: Literal["fine", "coarse"] = "fine"  # cifar100: 100 classes or 20 superclasses
    split: Split = Split(val_size=0.1, test_size=0.2)  # test_size unused: CIFAR ships its test split


class ImageFolderSource(Mirrored):
    """A directory with one sub-directory of images per class, or an archive holding one.

    Images are decoded, converted to `color_mode` and resized to `image_size` (height, width).
    With `archive`, `path` is the directory inside the extracted archive.
    """

    source: Literal["imagefolder"]
    path: str
    archive: RemoteFile | None = None
    image_size: Annotated[tuple[PositiveInt, PositiveInt], Field(strict=False)] = (64, 64)  # YAML has lists
    color_mode: Literal["rgb", "grayscale"] = "rgb"
    split: Split = Split()


DatasetConfig = Annotated[
    SklearnSource
    | IdxSource
    | StatsmodelsSource
    | CsvSource
    | HttpSource
    | SqlSource
    | FolderSource
    | TextSource
    | KerasNpzSource
    | CifarSource
    | ImageFolderSource,
    Field(discriminator="source"),
]
