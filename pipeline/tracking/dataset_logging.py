"""A run's input data set recorded by its content hash, with a tensor schema the MLflow UI can show."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pipeline.tracking.store import is_http
from pipeline.tracking.values import MAX_TAG_VALUE

MAX_DIGEST = 36  # MLflow's limit on a dataset digest


def log_dataset(
    client: Any, run_id: str, name: str, digest: str, source: str, schema: Mapping[str, Any]
) -> None:
    """Log the data set as the run's training input; the full hash is its input tag `pipeline.data_hash`."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    if is_http(source):
        source_type, source_json = "http", json.dumps({"url": source})
    else:
        source_type, source_json = "local", json.dumps({"uri": source})
    entity = Dataset(
        name=name,
        digest=digest[:MAX_DIGEST],
        source_type=source_type,
        source=source_json,
        schema=_tensor_schema(schema),
        profile=json.dumps(schema, default=str)[:MAX_TAG_VALUE],
    )
    tags = [InputTag("mlflow.data.context", "training"), InputTag("pipeline.data_hash", digest)]
    client.log_inputs(run_id, datasets=[DatasetInput(entity, tags=tags)])


def _tensor_schema(schema: Mapping[str, Any]) -> str | None:
    """MLflow's tensor schema JSON for a processed data set's input, so the UI can show it."""
    shape = schema.get("input_shape")
    if not shape:
        return None
    try:
        import numpy as np
        from mlflow.data.schema import TensorDatasetSchema
        from mlflow.types import Schema, TensorSpec

        dtype = schema.get("splits", {}).get("train", {}).get("x", {}).get("dtype", "float32")
        features = Schema([TensorSpec(np.dtype(dtype), (-1, *shape))])
        return json.dumps(TensorDatasetSchema(features).to_dict())
    except Exception:  # the schema is decoration: never lose the dataset record over it
        return None
