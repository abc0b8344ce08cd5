"""Text data sets after splitting: a vocabulary fitted on the training documents, then token ids.

Classification keeps one padded row of ids per document. A language model is split by document
(no text is shared between splits), each split's documents are joined into one character stream,
and the stream is cut into windows that each predict the character after them.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import KerasNpzSource, TextSource
from pipeline.config import Split as SplitShares
from pipeline.core.errors import PipelineError
from pipeline.datasets import vocabulary
from pipeline.datasets.processed import ProcessedData, Schema, Split
from pipeline.datasets.raw import Raw

DOCUMENT_BREAK = "\n\n"  # between documents in a language model's stream


def classification(name: str, cfg: TextSource | KerasNpzSource, raw: Raw, splits, seed: int) -> ProcessedData:
    """Encode already split (documents, labels) pairs with a vocabulary of the training documents."""
    (train_docs, _), *_ = splits
    vocab = vocabulary.fit(train_docs, cfg.encoding)
    out = [Split(vocabulary.encode(docs, vocab, cfg.encoding), y) for docs, y in splits]
    schema = Schema(
        dataset=name,
        task="classification",
        layout="text",
        input_shape=(cfg.encoding.max_length,),
        n_classes=len(raw.class_names),
        class_names=raw.class_names,
        vocabulary=vocab,
        tokens=cfg.encoding.tokens,
        extra={"seed": seed, "source": cfg.source, "encoding": cfg.encoding.model_dump()},
    )
    return ProcessedData(schema, *out)


def language_model(name: str, cfg: TextSource, raw: Raw, seed: int) -> ProcessedData:
    """Character windows of documents split train / val / test by document."""
    documents = _document_splits(name, raw.x, cfg.split, seed)
    vocab = vocabulary.fit(documents[0], cfg.encoding)
    out = []
    for docs in documents:
        stream = vocabulary.tokenize(DOCUMENT_BREAK.join(docs), cfg.encoding)
        x, y = vocabulary.windows(vocabulary.ids(stream, vocab), cfg.window, cfg.stride)
        out.append(Split(x, y))
    too_short = [part for part, split in zip(("train", "val", "test"), out, strict=True) if len(split.x) < 2]
    if too_short:
        raise PipelineError(
            f"dataset {name!r}: the {', '.join(too_short)} text is shorter than window {cfg.window}; "
            "lower `window` or add documents"
        )
    schema = Schema(
        dataset=name,
        task="language_model",
        layout="text",
        input_shape=(cfg.window,),
        n_classes=len(vocab),
        vocabulary=vocab,
        tokens=cfg.encoding.tokens,
        extra={
            "seed": seed,
            "source": cfg.source,
            "encoding": cfg.encoding.model_dump(),
            "window": cfg.window,
            "stride": cfg.stride,
            "documents": [len(docs) for docs in documents],
        },
    )
    return ProcessedData(schema, *out)


def _document_splits(name: str, documents: np.ndarray, shares: SplitShares, seed: int) -> list[list[str]]:
    if len(documents) < 3:
        raise PipelineError(f"dataset {name!r} has {len(documents)} documents; a language model needs 3")
    order = np.random.default_rng(seed).permutation(len(documents))
    n_test = max(1, round(len(documents) * shares.test_size))
    n_val = max(1, round(len(documents) * shares.val_size))
    parts = np.split(order, [len(order) - n_val - n_test, len(order) - n_test])
    return [[str(documents[i]) for i in sorted(part)] for part in parts]
