"""Atomic writes, safe array files and content hashes: every file a stage writes goes through here."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.errors import PipelineError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale(directory: Path, prefix: str, suffix: str) -> None:
    """Delete temp files or dirs named <prefix><8 random characters><suffix> that a killed writer left.

    Only one writer of a given output runs at a time (DVC locks the workspace; `dvc exp` workers
    each run in their own copy), so a temp name of that output is always a stale one.
    """
    pattern = f"{glob.escape(prefix)}{'?' * 8}{glob.escape(suffix)}"  # tempfile's 8 random characters
    for stale in directory.glob(pattern):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A crash (or SIGKILL) mid-write leaves the previous file intact and at worst a stray
    hidden temp file, never a truncated `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path.parent, f".{path.name}.", ".tmp")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes 0600; outputs get ordinary permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_path(directory: Path | str, name: str | None = None) -> Iterator[Path]:
    """A temporary file in `directory` (same file system as the final output), always deleted.

    With `name` (the output it is for) the file is `.<name>.XXXXXXXX.part`, and scratch files of
    `name` that a killed process left behind are deleted first.
    """
    directory = Path(directory)
    prefix = f".{name}." if name else ".scratch."
    if name:
        _remove_stale(directory, prefix, ".part")
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=directory)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


_staging: dict[Path, Path] = {}  # atomic_dir's temporary directories -> the outputs they become


def final_path(path: Path | str) -> Path:
    """Where `path` ends up: a path inside an atomic_dir's temporary directory under its final name."""
    path = Path(path)
    for tmp, final in _staging.items():
        if path.is_relative_to(tmp):
            return final / path.relative_to(tmp)
    return path


@contextlib.contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `path`; on success it becomes `path` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    _remove_stale(path.parent, prefix, ".tmp")
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    _staging[tmp] = path
    aside = None
    try:
        yield tmp
        if path.exists() or path.is_symlink():
            # moved aside whole by a rename, not deleted file by file: a kill during the swap leaves
            # the old version (in a stale temp dir the next writer removes) or nothing, never half of it
            aside = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=path.parent))
            os.replace(path, aside / "previous")
        os.replace(tmp, path)
    finally:
        del _staging[tmp]
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path | str, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_to_builtin) + "\n")


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def save_arrays(path: Path | str, arrays: Mapping[str, np.ndarray]) -> None:
    """Save arrays compressed; object arrays are refused so loading never needs pickle."""
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"array {name!r} has dtype object, which would need pickle to load")
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **arrays)


def load_arrays(path: Path | str) -> dict[str, np.ndarray]:
    """Load every array of an .npz file without ever unpickling.

    A file holding pickled objects is refused, and a missing, truncated or corrupt one (zip CRCs are
    checked) is a PipelineError naming it, not a traceback.
    """
    try:
        loaded = np.load(path, allow_pickle=False)
        if not hasattr(loaded, "files"):
            raise PipelineError(f"{path} holds a single .npy array, not an .npz archive of named arrays")
        with loaded as data:
            return {name: data[name] for name in data.files}
    except ValueError as err:
        if "pickle" not in str(err):
            raise _unreadable(path, err) from None
        raise PipelineError(
            f"{path} holds pickled Python objects; refusing to load it (loading would run arbitrary code): "
            "re-create it with the stage that writes it"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise _unreadable(path, err) from None


def _unreadable(path: Path | str, err: Exception) -> PipelineError:
    return PipelineError(
        f"{path} is not a readable .npz file ({type(err).__name__}: {err}): "
        "re-create it with the stage that writes it (`dvc repro -f <stage>`)"
    )


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path | str, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_array(array: np.ndarray) -> str:
    """Hash of an array's dtype, shape and bytes: equal arrays, equal hashes."""
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
