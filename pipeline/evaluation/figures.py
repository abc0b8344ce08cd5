"""One way to make a PNG figure: Agg backend, atomic save, always closed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.core import storage

log = logging.getLogger(__name__)

DPI = 100


@contextmanager
def figure(path: Path | str, **subplots: Any) -> Iterator[tuple[Any, Any]]:
    """Yield (figure, axes) from `plt.subplots(**subplots)`; save it as PNG atomically, always close it.

    Matplotlib is imported here, not at module level, so importing callers stays fast.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(**subplots)
    try:
        yield fig, axes
        fig.tight_layout()
        with storage.atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI)  # the temp name has no .png suffix
    finally:
        plt.close(fig)
    log.info("wrote %s", storage.final_path(path))  # not the temporary directory it may be staged in
