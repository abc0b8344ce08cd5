"""Read MNIST-format IDX files (the format of MNIST and Fashion-MNIST)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError

_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path) -> np.ndarray:
    """Parse one uncompressed IDX file into an array of its declared dtype and shape."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise PipelineError(f"{path} is not an IDX file (bad magic number): delete it and re-run download")
    dtype, n_dims = np.dtype(_DTYPES[data[2]]), data[3]
    header = 4 + 4 * n_dims
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise PipelineError(
            f"{path} holds {len(data)} bytes, its header promises {expected}: re-run download"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as IDX (used to build test fixtures and mirrors)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    Path(path).write_bytes(header + array.tobytes())
