"""Hand-made image features for scikit-learn models: HOG and colour histograms, vectorised in batches.

`extract` is the first step of such a model (a FunctionTransformer), so the saved model takes the
processed images (n, H, W, C), scaled to [0, 1] by `preprocess`. `hog` computes what
`skimage.feature.hog` does per image (L2-Hys block normalisation, no square-root transform) for a
whole batch at once with NumPy, about ten times faster than calling it per image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BATCH = 2048  # images at a time: bounds the memory of the intermediate arrays
GREY = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)  # skimage.color.rgb2gray's weights
EPS = 1e-5  # skimage's block-normalisation epsilon
CLIP = 0.2  # L2-Hys clipping


def extract(
    x: np.ndarray, *, kind: str, orientations: int, pixels_per_cell: int, cells_per_block: int, bins: int
) -> np.ndarray:
    """Images (n, H, W, C) -> features (n, d) float32: `kind` is hog, color_histogram or both ('+')."""
    images = np.asarray(x, dtype=np.float32)
    parts = []
    if "hog" in kind.split("+"):
        parts.append(
            hog(
                grey(images),
                orientations=orientations,
                pixels_per_cell=pixels_per_cell,
                cells_per_block=cells_per_block,
            )
        )
    if "color_histogram" in kind.split("+"):
        parts.append(color_histograms(images, bins=bins))
    return np.concatenate(parts, axis=1)


def grey(images: np.ndarray) -> np.ndarray:
    """(n, H, W, 1 or 3) -> (n, H, W): the only channel, or the luminance of RGB as rgb2gray computes it."""
    if images.shape[-1] == 1:
        return images[..., 0]
    return images @ GREY


def _batched(function: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    starts = range(0, max(len(images), 1), BATCH)  # one (empty) batch for no images keeps the width
    return np.concatenate([function(images[start : start + BATCH]) for start in starts])


def hog(images: np.ndarray, *, orientations: int, pixels_per_cell: int, cells_per_block: int) -> np.ndarray:
    """HOG features of grey images (n, H, W) -> (n, blocks * cells_per_block² * orientations)."""
    return _batched(lambda batch: _hog(batch, orientations, pixels_per_cell, cells_per_block), images)


def _hog(images: np.ndarray, orientations: int, cell: int, block: int) -> np.ndarray:
    n, height, width = images.shape
    rows, cols = height // cell, width // cell
    g_row = np.zeros_like(images)
    g_row[:, 1:-1, :] = images[:, 2:, :] - images[:, :-2, :]
    g_col = np.zeros_like(images)
    g_col[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
    g_row, g_col = (g[:, : rows * cell, : cols * cell].astype(np.float64) for g in (g_row, g_col))
    magnitude = np.hypot(g_col, g_row)
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    # bin i holds angles in [edges[i], edges[i + 1]); the edges in float32, as skimage compares them
    edges = np.float32(180.0 / orientations) * np.arange(orientations + 1, dtype=np.float32)
    bin_index = np.searchsorted(edges.astype(np.float64), angle, side="right") - 1
    outside = bin_index >= orientations  # an angle rounded up to 180 degrees counts nowhere
    cell_index = (np.arange(rows * cell) // cell)[:, None] * cols + np.arange(cols * cell) // cell
    index = (np.arange(n)[:, None, None] * (rows * cols) + cell_index) * orientations
    index = index + np.where(outside, 0, bin_index)
    weights = np.where(outside, 0.0, magnitude)
    cells = np.bincount(index.ravel(), weights.ravel(), minlength=n * rows * cols * orientations)
    cells = cells.reshape(n, rows, cols, orientations) / (cell * cell)
    windows = np.lib.stride_tricks.sliding_window_view(cells, (block, block), axis=(1, 2))
    n_blocks, per_block = (rows - block + 1) * (cols - block + 1), block * block * orientations
    blocks = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n, n_blocks, per_block)
    blocks = blocks / np.sqrt(np.sum(blocks**2, axis=-1, keepdims=True) + EPS**2)
    blocks = np.minimum(blocks, CLIP)
    blocks = blocks / np.sqrt(np.sum(blocks**2, axis=-1, keepdims=True) + EPS**2)
    return blocks.reshape(n, n_blocks * per_block).astype(np.float32)


def color_histograms(images: np.ndarray, *, bins: int) -> np.ndarray:
    """Per-channel histograms of images (n, H, W, C) over [0, 1] in `bins` equal bins, each summing to 1
    (values outside [0, 1] count in the end bins) -> (n, C * bins)."""
    return _batched(lambda batch: _color_histograms(batch, bins), images)


def _color_histograms(images: np.ndarray, bins: int) -> np.ndarray:
    n, height, width, channels = images.shape
    bin_index = np.clip(np.floor(images * bins), 0, bins - 1).astype(np.int64)
    index = bin_index.reshape(n, height * width, channels) + (
        (np.arange(n)[:, None, None] * channels + np.arange(channels)) * bins
    )
    counts = np.bincount(index.ravel(), minlength=n * channels * bins)
    return (counts.reshape(n, channels * bins) / (height * width)).astype(np.float32)
