"""A table's string columns as numbers: one-hot or ordinal codes, fitted on the training rows only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np


def encode(
    categorical: Mapping[str, np.ndarray], rows: Sequence[np.ndarray], kind: Literal["onehot", "ordinal"]
) -> tuple[list[np.ndarray], list[str], dict[str, list[str]]]:
    """(the encoded columns of each split's `rows`, their names, each column's categories).

    Categories come from `rows[0]` (the training split). A value unseen there is all zeros one-hot,
    or -1 as an ordinal code.
    """
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    names = list(categorical)
    table = np.column_stack([categorical[name] for name in names])
    if kind == "onehot":
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32)
    else:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float32)
    encoder.fit(table[rows[0]])
    found = {name: [str(c) for c in values] for name, values in zip(names, encoder.categories_, strict=True)}
    encoded_names = [str(n) for n in encoder.get_feature_names_out(names)] if kind == "onehot" else names
    return [encoder.transform(table[r]) for r in rows], encoded_names, found
