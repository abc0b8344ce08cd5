"""Fetch one remote file into place, verified: mirror first, then the canonical URL.

Accepted locations are a local directory, a `file://` base or an `http(s)://` base; nothing
fetched is ever executed. HTTP retries network errors and 5xx answers with exponential
back-off. The sha256 is checked on the payload (after gunzip for `.gz` files, because
mirrors such as Debian's `dataset-fashion-mnist` recompress the archives); only a verified
payload is renamed into place, so an interrupted or corrupt download never looks complete.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from pipeline import io
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

RETRIES = 4
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = (10, 60)  # connect, read
CHUNK = 1 << 20


class ChecksumError(PipelineError):
    """The bytes arrived but are not the pinned ones."""


def _session() -> requests.Session:
    retry = Retry(
        total=RETRIES,
        backoff_factor=BACKOFF_SECONDS,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=("GET",),
        raise_on_status=True,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def candidates(url: str, mirror: str | None) -> list[str]:
    """Where to look for `url`'s file, in order: the mirror (if any), then the canonical URL."""
    name = Path(urlparse(url).path).name
    found = []
    if mirror:
        found.append(mirror.rstrip("/") + "/" + name)
    found.append(url)
    return found


def check_mirror(mirror: str | None, hint: str) -> None:
    """Reject a mirror of an unsupported kind or a local mirror that does not exist."""
    if not mirror:
        return
    scheme = urlparse(mirror).scheme
    if scheme in ("http", "https"):
        return
    if scheme not in ("", "file"):
        raise PipelineError(f"mirror {mirror!r}: only a directory, file:// or http(s):// base is allowed")
    if not _local_path(mirror).is_dir():
        raise PipelineError(f"mirror directory {mirror} does not exist. {hint}")


def _local_path(location: str) -> Path:
    parsed = urlparse(location)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location)


def _copy_to(location: str, handle, session: requests.Session) -> None:
    """Write the bytes at `location` into the open binary `handle`, with a progress bar."""
    scheme = urlparse(location).scheme
    if scheme in ("http", "https"):
        with session.get(location, stream=True, timeout=TIMEOUT_SECONDS) as response:
            response.raise_for_status()
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=Path(location).name, leave=False) as bar:
                for chunk in response.iter_content(CHUNK):
                    handle.write(chunk)
                    bar.update(len(chunk))
    else:
        with _local_path(location).open("rb") as source:
            shutil.copyfileobj(source, handle, CHUNK)


def _payload_digest(path: Path, compressed: bool) -> str:
    digest = hashlib.sha256()
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
    except (OSError, EOFError) as err:  # truncated or not gzip at all
        return f"unreadable ({err})"
    return digest.hexdigest()


def fetch(url: str, sha256: str, dest: Path, *, mirror: str | None = None, hint: str = "") -> Path:
    """Fetch `url` (or its mirror copy) to `dest`, decompressed if `.gz`, verified against `sha256`.

    Returns `dest`. Raises ChecksumError on wrong bytes and PipelineError when no location answers.
    """
    compressed = urlparse(url).path.endswith(".gz")
    session = _session()
    failures = []
    for location in candidates(url, mirror):
        with io.scratch_path(dest.parent) as raw:
            try:
                with raw.open("wb") as handle:
                    _copy_to(location, handle, session)
            except (OSError, requests.RequestException) as err:
                failures.append(f"{location}: {type(err).__name__}: {err}")
                log.warning("could not fetch %s (%s); trying the next location", location, err)
                continue
            actual = _payload_digest(raw, compressed)
            if actual != sha256:
                raise ChecksumError(
                    f"checksum mismatch for {Path(urlparse(location).path).name} from {location}: "
                    f"expected sha256 {sha256}, got {actual}. Nothing was written; "
                    "fix or remove the mirror copy, or update the pinned hash if the source changed."
                )
            with io.atomic_path(dest) as final, final.open("wb") as out:
                opener = gzip.open if compressed else open
                with opener(raw, "rb") as payload:
                    shutil.copyfileobj(payload, out, CHUNK)
            log.info("fetched %s from %s (sha256 verified)", dest.name, location)
            return dest
    raise PipelineError(
        f"could not fetch {Path(urlparse(url).path).name} from any location:\n  "
        + "\n  ".join(failures)
        + (f"\n{hint}" if hint else "")
    )
