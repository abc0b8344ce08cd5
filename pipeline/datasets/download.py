"""Fetch one remote file into place, verified: mirror first, then the canonical URL.

Accepted locations are a local directory, a `file://` base or an `http(s)://` base; nothing
fetched is ever executed. HTTP retries network errors and 5xx answers with exponential
back-off. The digest is checked on the payload (after gunzip for `.gz` files, because mirrors
such as Debian's `dataset-fashion-mnist` recompress them; archives kept whole, such as `.tar.gz`,
are checked as published); only a verified payload is renamed into place, so an interrupted or
corrupt download never looks complete.
A body cut off mid-way is fetched again (resumed with an HTTP Range request where the server allows
it, else from the start), and the scratch file a killed download left is deleted by the next one.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from pipeline.config import Mirrored, RemoteFile
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri, scrub
from pipeline.datasets import archives

log = logging.getLogger(__name__)

RETRIES = 4
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = (10, 60)  # connect, read
CHUNK = 1 << 20


class ChecksumError(PipelineError):
    """The bytes arrived but are not the pinned ones."""


def retrying_session() -> requests.Session:
    """A session that retries GETs on network errors and 429 / 5xx answers, with back-off."""
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


def mirror_env_var(name: str) -> str:
    return f"PIPELINE_MIRROR_{name.upper()}"


def mirror_for(name: str, configured: str | None) -> str | None:
    """The mirror to try first for data set `name`: PIPELINE_MIRROR_<NAME> if set, else `configured`."""
    return os.environ.get(mirror_env_var(name)) or configured


def mirror_hint(name: str, package: str | None) -> str:
    """How to get data set `name` without network: its Debian package (if any) or a mirror."""
    install = f"install it with `sudo apt-get install {package}`, or " if package else ""
    return (
        f"To get data set {name!r} offline, {install}point datasets.{name}.mirror "
        f"(or the environment variable {mirror_env_var(name)}) at a directory, file:// or http(s):// "
        "base holding its files."
    )


def mirror_of(name: str, cfg: Mirrored) -> tuple[str | None, str]:
    """(mirror to try first, hint for when nothing answers) of a mirrored data set; the mirror checked."""
    mirror = mirror_for(name, cfg.mirror)
    hint = mirror_hint(name, cfg.mirror_package)
    check_mirror(mirror, hint)
    return mirror, hint


def fetch_archive(name: str, cfg: Mirrored, spec: RemoteFile, scratch: Path, *, max_bytes: int) -> Path:
    """Fetch the archive `spec` of data set `name` (mirror first, verified as published) into `scratch`,
    extract it there safely and return the extracted tree. A `scratch` inside the staging directory
    means a killed fetch leaves nothing that the next one keeps."""
    mirror, hint = mirror_of(name, cfg)
    archive = scratch / Path(urlparse(spec.url).path).name
    fetch_remote(spec, archive, mirror=mirror, hint=hint, decompress=False)
    archives.safe_extract(archive, scratch / "extracted", max_bytes=max_bytes)
    return scratch / "extracted"


def candidates(url: str, mirror: str | None) -> list[str]:
    """Where to look for `url`'s file, in order: the mirror (if any), then the canonical URL."""
    name = Path(urlparse(url).path).name
    found = []
    if mirror:
        found.append(mirror.rstrip("/") + "/" + name)
    found.append(url)
    return found


ALLOWED_SCHEMES = ("http", "https", "file", "")  # "": a local path


def check_location(location: str) -> None:
    """Refuse a location that is neither http(s):// nor file:// nor a local path (ftp://, data:, ...)."""
    scheme = urlparse(location).scheme
    if scheme not in ALLOWED_SCHEMES:
        raise PipelineError(
            f"{mask_uri(location)}: scheme {scheme!r} is not allowed; "
            "only an http(s):// or file:// URL or a local path is fetched"
        )


def check_mirror(mirror: str | None, hint: str) -> None:
    """Reject a mirror of an unsupported kind or a local mirror that does not exist."""
    if not mirror:
        return
    scheme = urlparse(mirror).scheme
    if scheme in ("http", "https"):
        return
    if scheme not in ("", "file"):
        raise PipelineError(
            f"mirror {mask_uri(mirror)!r}: only a directory, file:// or http(s):// base is allowed"
        )
    if not _local_path(mirror).is_dir():
        raise PipelineError(f"mirror directory {mirror} does not exist. {hint}")


def _local_path(location: str) -> Path:
    parsed = urlparse(location)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location)


class _BodyCutOff(Exception):
    """The connection broke (or stalled past the read timeout) in the middle of a response body."""


def _copy_to(location: str, path: Path, session: requests.Session) -> None:
    """Write the bytes at `location` into `path`; an HTTP body cut off mid-way is fetched again."""
    if urlparse(location).scheme not in ("http", "https"):
        with _local_path(location).open("rb") as source, path.open("wb") as handle:
            shutil.copyfileobj(source, handle, CHUNK)
        return
    for attempt in range(1, RETRIES + 1):
        try:
            _http_to(location, path, session, resume=attempt > 1)
            return
        except _BodyCutOff as err:
            if attempt == RETRIES:
                raise requests.ConnectionError(f"{err} ({RETRIES} attempts)") from err
            log.warning(
                "%s: %s; fetching again (attempt %d of %d)", mask_uri(location), err, attempt + 1, RETRIES
            )
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))


def _http_to(location: str, path: Path, session: requests.Session, *, resume: bool) -> None:
    """GET `location` into `path`, continuing after the bytes already there if `resume` and the
    server answers the Range request with exactly those bytes; otherwise from the start."""
    have = path.stat().st_size if resume and path.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with session.get(location, stream=True, timeout=TIMEOUT_SECONDS, headers=headers) as response:
        partial = response.status_code in (206, 416)
        if partial and not (have and _content_range_start(response) == have):
            path.write_bytes(b"")  # a part we cannot append to what we have: start again from byte 0
            raise _BodyCutOff(
                f"the server answered a resume from byte {have} with HTTP {response.status_code} "
                f"({response.headers.get('Content-Range', 'no Content-Range')})"
            )
        response.raise_for_status()
        resumed = partial
        received = have if resumed else 0
        length = int(response.headers.get("Content-Length") or 0)
        name = Path(urlparse(location).path).name
        bar = tqdm(
            total=received + length or None,
            initial=received,
            unit="B",
            unit_scale=True,
            desc=name,
            leave=False,
        )
        with path.open("ab" if resumed else "wb") as handle, bar:
            try:
                for chunk in response.iter_content(CHUNK):
                    handle.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as err:
                raise _BodyCutOff(f"the response broke off after {received} bytes ({err})") from err


def _content_range_start(response: requests.Response) -> int | None:
    """The first byte of a 206 answer (`Content-Range: bytes 100-199/200` -> 100)."""
    value = response.headers.get("Content-Range", "")
    unit, _, span = value.partition(" ")
    first = span.split("-", 1)[0]
    return int(first) if unit == "bytes" and first.isdigit() else None


def fetch_remote(spec: RemoteFile, dest: Path, **options: Any) -> Path:
    """`fetch` for a RemoteFile of params.yaml (its URL and pinned digest); options as for `fetch`."""
    return fetch(spec.url, spec.sha256, dest, md5=spec.md5, **options)


def _payload_digest(path: Path, compressed: bool, algorithm: str) -> str | None:
    """The payload's hex digest, or None when the .gz is damaged (truncated, bad CRC, not gzip)."""
    digest = hashlib.new(algorithm)
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def fetch(
    url: str,
    sha256: str | None,
    dest: Path,
    *,
    mirror: str | None = None,
    hint: str = "",
    md5: str | None = None,
    decompress: bool = True,
) -> Path:
    """Fetch `url` (or its mirror copy) to `dest`, verified against `sha256` (or `md5` where upstream
    publishes nothing stronger). A `.gz` file is decompressed and its payload verified, unless
    `decompress` is false (archives kept whole, verified as published).

    Returns `dest`. Raises ChecksumError on wrong bytes and PipelineError when no location answers.
    """
    if (sha256 is None) == (md5 is None):
        raise ValueError("give exactly one of sha256 and md5")
    algorithm, expected = ("sha256", sha256) if sha256 else ("md5", md5)
    compressed = decompress and urlparse(url).path.endswith(".gz")
    locations = candidates(url, mirror)
    for location in locations:
        check_location(location)  # before any request: nothing but http(s) and files is ever fetched
    session = retrying_session()
    failures = []
    dest.parent.mkdir(parents=True, exist_ok=True)
    for location in locations:
        with storage.scratch_path(dest.parent, dest.name) as raw:
            try:
                _copy_to(location, raw, session)
            except (OSError, requests.RequestException) as err:
                reason = scrub(f"{type(err).__name__}: {err}", location)
                failures.append(f"{mask_uri(location)}: {reason}")
                log.warning("could not fetch %s (%s); trying the next location", mask_uri(location), reason)
                continue
            actual = _payload_digest(raw, compressed, algorithm)
            name = Path(urlparse(location).path).name
            if actual is None:  # damaged in transit or on disk: the source did not change
                raise ChecksumError(
                    f"{name} from {mask_uri(location)} is a corrupt or truncated gzip file (unreadable). "
                    "Nothing was written; run again to fetch a fresh copy, or replace the mirror copy."
                )
            if actual != expected:
                raise ChecksumError(
                    f"checksum mismatch for {name} from {mask_uri(location)}: "
                    f"expected {algorithm} {expected}, got {actual}. Nothing was written; "
                    "fix or remove the mirror copy, or update the pinned hash if the source changed."
                )
            with storage.atomic_path(dest) as final, final.open("wb") as out:
                opener = gzip.open if compressed else open
                with opener(raw, "rb") as payload:
                    shutil.copyfileobj(payload, out, CHUNK)
            log.info("fetched %s from %s (%s verified)", dest.name, mask_uri(location), algorithm)
            return dest
    raise PipelineError(
        f"could not fetch {Path(urlparse(url).path).name} from any location:\n  "
        + "\n  ".join(failures)
        + (f"\n{hint}" if hint else "")
    )
