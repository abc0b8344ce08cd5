"""Documents to token ids and back: tokenising, a vocabulary fitted on training text, encoding.

Pure Python and NumPy (no TensorFlow), so the preprocess stage stays light. Ids: 0 is padding,
1 an unknown token, then the commonest training tokens (ties broken alphabetically), so the same
training text always gives the same vocabulary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from pipeline.config import TextEncoding

PAD, UNKNOWN = "", "[UNK]"
PAD_ID, UNKNOWN_ID = 0, 1
_WORD = re.compile(r"[\w']+")
_SPACES = re.compile(r"[^\S\n]+")  # runs of whitespace other than line breaks


def tokenize(text: str, encoding: TextEncoding) -> list[str]:
    """Words (letters, digits and apostrophes; punctuation dropped) or characters (spaces collapsed)."""
    if encoding.lowercase:
        text = text.lower()
    if encoding.tokens == "word":
        return _WORD.findall(text)
    return list(_SPACES.sub(" ", text).strip())


def separator(tokens: str) -> str:
    """What joins decoded tokens back into text."""
    return " " if tokens == "word" else ""


def fit(documents: Iterable[str], encoding: TextEncoding) -> tuple[str, ...]:
    """The vocabulary of the training documents: padding, unknown, then up to vocab_size - 2 tokens
    seen at least min_count times."""
    counts = Counter(token for document in documents for token in tokenize(document, encoding))
    kept = sorted((t for t, n in counts.items() if n >= encoding.min_count), key=lambda t: (-counts[t], t))
    return (PAD, UNKNOWN, *kept[: encoding.vocab_size - 2])


def ids(tokens: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """Token ids, unknown tokens as UNKNOWN_ID."""
    index = {token: i for i, token in enumerate(vocabulary)}
    return np.fromiter((index.get(t, UNKNOWN_ID) for t in tokens), dtype=np.int32, count=len(tokens))


def encode(documents: Sequence[str], vocabulary: Sequence[str], encoding: TextEncoding) -> np.ndarray:
    """(n, max_length) int32: each document's first max_length token ids, padded with 0 in front
    (so a recurrent model's last steps are text, not padding)."""
    index = {token: i for i, token in enumerate(vocabulary)}
    out = np.zeros((len(documents), encoding.max_length), dtype=np.int32)
    for row, document in enumerate(documents):
        tokens = tokenize(document, encoding)[: encoding.max_length]
        if tokens:
            out[row, -len(tokens) :] = [index.get(t, UNKNOWN_ID) for t in tokens]
    return out


def decode(x: np.ndarray, vocabulary: Sequence[str], tokens: str, *, keep_unknown: bool = True) -> list[str]:
    """Rows of ids back to text (padding dropped; unknown tokens shown as [UNK] unless not kept)."""
    skip = {PAD_ID} if keep_unknown else {PAD_ID, UNKNOWN_ID}
    joiner = separator(tokens)
    return [joiner.join(vocabulary[i] for i in row if i not in skip) for row in np.asarray(x)]


def windows(stream: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Language-model samples from one id stream: x[i] = `window` ids, y[i] = the id after them."""
    starts = np.arange(0, max(len(stream) - window, 0), stride)
    x = np.stack([stream[s : s + window] for s in starts]) if len(starts) else np.zeros((0, window), np.int32)
    return x.astype(np.int32), stream[starts + window].astype(np.int64)


def next_tokens(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The id after every position of each window (x[i, 1:] then y[i]): targets for every-step training."""
    return np.concatenate([x[:, 1:], y[:, np.newaxis].astype(x.dtype)], axis=1)
