"""Data sets bundled with scikit-learn (digits, iris, wine, breast_cancer) and statsmodels (time series).

Raw layout: `data.npz` (arrays `x`, `y` or `time`) and `meta.json` saying what the arrays are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.config import SklearnSource, StatsmodelsSource
from pipeline.core import storage
from pipeline.datasets.raw import Raw

_STATSMODELS_COLUMNS = {"sunspots": ("SUNACTIVITY", "YEAR"), "co2": ("co2", None)}


def fetch(name: str, cfg: SklearnSource | StatsmodelsSource, out: Path) -> None:
    if cfg.source == "sklearn":
        _fetch_sklearn(cfg, out)
    else:
        _fetch_statsmodels(cfg, out)


def _fetch_sklearn(cfg: SklearnSource, out: Path) -> None:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{cfg.name}")()
    is_image = cfg.name == "digits"
    x = bunch.images[..., np.newaxis] if is_image else bunch.data
    storage.save_arrays(out / "data.npz", {"x": x.astype(np.float32), "y": bunch.target.astype(np.int64)})
    storage.write_json(
        out / "meta.json",
        {
            "source": "sklearn",
            "task": "classification",
            "layout": "image" if is_image else "tabular",
            "class_names": [str(c) for c in bunch.target_names],
            "feature_names": None if is_image else [str(f) for f in bunch.feature_names],
        },
    )


def _fetch_statsmodels(cfg: StatsmodelsSource, out: Path) -> None:
    import statsmodels.api as sm

    frame = getattr(sm.datasets, cfg.name).load_pandas().data
    value_column, time_column = _STATSMODELS_COLUMNS[cfg.name]
    frame = frame.dropna(subset=[value_column])
    time = frame[time_column].to_numpy() if time_column else frame.index.to_numpy().astype("datetime64[D]")
    storage.save_arrays(
        out / "data.npz",
        {"x": frame[value_column].to_numpy(np.float32)[:, np.newaxis], "time": time.astype(str)},
    )
    storage.write_json(out / "meta.json", {"source": "statsmodels", "task": "forecast", "layout": "sequence"})


def read(name: str, cfg: SklearnSource | StatsmodelsSource, raw_dir: Path, meta: dict) -> Raw:
    arrays = storage.load_arrays(raw_dir / "data.npz")
    names = tuple(meta["class_names"]) if meta.get("class_names") else None
    return Raw(meta["task"], meta["layout"], arrays["x"], arrays.get("y"), names)
