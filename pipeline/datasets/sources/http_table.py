"""A table (csv or parquet) at an http(s) URL that is updated in place, with no pinned digest.

Its check token is the file's ETag, else its Last-Modified date (a HEAD request), else the sha256 of
its bytes (a GET). A fetch takes the token from the same GET that brings the bytes, so the snapshot
and its token always agree. Raw layout and reading: pipeline.datasets.sources.tables.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.config import HttpSource
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri, scrub
from pipeline.datasets import snapshot
from pipeline.datasets.sources import SourceUnreachable, tables

read = tables.read
CHUNK = 1 << 20
NO_HEAD = (405, 501)  # servers that do not answer HEAD: ask with a GET


def _header_token(headers) -> dict | None:
    if headers.get("ETag"):
        return {"etag": headers["ETag"]}
    if headers.get("Last-Modified"):
        return {"last_modified": headers["Last-Modified"]}
    return None


def _stream(response, handle=None) -> dict:
    """The token of a GET response: its ETag or Last-Modified, else the sha256 of the body, which is
    read in any case (into `handle` if given)."""
    digest = hashlib.sha256()
    for chunk in response.iter_content(CHUNK):
        digest.update(chunk)
        if handle is not None:
            handle.write(chunk)
    return _header_token(response.headers) or {"sha256": digest.hexdigest()}


def _unreachable(name: str, url: str, err: Exception) -> SourceUnreachable:
    return SourceUnreachable(f"dataset {name!r}: {mask_uri(url)} did not answer ({scrub(str(err), url)})")


def location(name: str, cfg: HttpSource) -> dict:
    """Where the data comes from, as snapshot.json records it (secrets masked)."""
    return {"kind": "http", "url": mask_uri(cfg.url)}


def check(name: str, cfg: HttpSource, timeout: float) -> dict:
    import requests

    try:
        head = requests.head(cfg.url, timeout=timeout, allow_redirects=True)
        if head.status_code not in NO_HEAD:
            head.raise_for_status()
            if token := _header_token(head.headers):
                return token
        with requests.get(cfg.url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            return _stream(response)
    except requests.RequestException as err:
        raise _unreachable(name, cfg.url, err) from None


def fetch(name: str, cfg: HttpSource, out: Path) -> None:
    import requests

    from pipeline.datasets import download

    data = out / tables.DATA_FILES[cfg.table_format]
    session = download.retrying_session()
    try:
        with (
            session.get(cfg.url, stream=True, timeout=download.TIMEOUT_SECONDS) as response,
            storage.atomic_path(data) as tmp,
            tmp.open("wb") as handle,
        ):
            response.raise_for_status()
            token = _stream(response, handle)
    except requests.RequestException as err:
        raise PipelineError(str(_unreachable(name, cfg.url, err))) from None
    snapshot.write(out, name, cfg, location(name, cfg), token)
