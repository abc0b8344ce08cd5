"""Extract a downloaded archive (.tar, .tar.gz, .tgz, .zip) without trusting its member names.

Every member is checked before anything is written: an absolute path, a `..` escape, a symbolic or
hard link, a device, a FIFO, a duplicate or an encrypted member refuses the whole archive with a
PipelineError naming the member. Extraction goes to a staging directory beside the target that
becomes the target in one rename (pipeline.core.storage.atomic_dir), so a refused, corrupt or interrupted
extraction leaves the target as it was. Tar members additionally pass tarfile's `data` filter.
"""

from __future__ import annotations

import gzip
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from pipeline.core import storage
from pipeline.core.errors import PipelineError

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
ZIP_SUFFIXES = (".zip",)
_UNREADABLE = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile)


class _Refused(Exception):
    """A member that must not be extracted; becomes a PipelineError naming the archive."""


def safe_extract(archive: Path | str, target: Path | str, *, max_bytes: int | None = None) -> list[Path]:
    """Extract `archive` into `target` (replaced whole); return the extracted files, sorted.

    `max_bytes` caps the total size of the members (a decompression bomb is refused before any
    byte is written).
    """
    archive, target = Path(archive), Path(target)
    name = archive.name.lower()
    if name.endswith(ZIP_SUFFIXES):
        extract = _extract_zip
    elif name.endswith(TAR_SUFFIXES):
        extract = _extract_tar
    else:
        raise PipelineError(
            f"{archive}: unsupported archive type; use one of {', '.join(TAR_SUFFIXES + ZIP_SUFFIXES)}"
        )
    try:
        files = extract(archive, target, max_bytes)
    except _Refused as err:
        raise PipelineError(f"refusing to extract {archive}: {err}; nothing was extracted") from None
    except tarfile.FilterError as err:  # a case our own checks missed: tarfile's data filter caught it
        member = getattr(err, "tarinfo", None)
        which = f"member {member.name!r}: " if member is not None else ""
        raise PipelineError(f"refusing to extract {archive}: {which}{err}; nothing was extracted") from None
    except _UNREADABLE as err:
        raise PipelineError(f"{archive} is not a readable archive ({type(err).__name__}: {err})") from None
    return sorted(target / relative for relative in files)


def _member_path(name: str) -> PurePosixPath:
    """The member's path relative to the target, or _Refused if it could land anywhere else."""
    if not name or "\x00" in name:
        raise _Refused(f"member {name!r} has an empty or NUL-containing name")
    if "\\" in name:  # a Windows separator: `..\\evil` escapes once extracted on Windows
        raise _Refused(f"member {name!r} contains a backslash")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _Refused(f"member {name!r} has an absolute path")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise _Refused(f"member {name!r} escapes the target directory with '..'")
    return path


class _Plan:
    """The members to extract, checked for conflicts (a name twice, a file used as a directory)."""

    def __init__(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self.total = 0
        self.files: set[PurePosixPath] = set()
        self.dirs: set[PurePosixPath] = set()

    def add(self, name: str, path: PurePosixPath, *, is_dir: bool, size: int = 0) -> None:
        if path in self.files or (not is_dir and path in self.dirs):
            raise _Refused(f"member {name!r} appears more than once")
        if any(parent in self.files for parent in path.parents):
            raise _Refused(f"member {name!r} lies under a member that is a file")
        (self.dirs if is_dir else self.files).add(path)
        self.total += size
        if self.max_bytes is not None and self.total > self.max_bytes:
            raise _Refused(f"members exceed {self.max_bytes} bytes (at {name!r})")


def _extract_tar(archive: Path, target: Path, max_bytes: int | None) -> list[PurePosixPath]:
    plan = _Plan(max_bytes)
    with tarfile.open(archive, "r:*") as tar:
        members = []
        for member in tar.getmembers():
            path = _member_path(member.name)
            if not path.parts:  # "./": the archive's root, i.e. the target itself
                continue
            kind = _tar_kind(member)
            if kind:
                raise _Refused(f"member {member.name!r} is {kind}")
            plan.add(member.name, path, is_dir=member.isdir(), size=member.size)
            members.append(member)
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        with storage.atomic_dir(target) as staging:
            tar.extractall(staging, members=members, **extra)  # members checked above
    return sorted(plan.files)


def _tar_kind(member: tarfile.TarInfo) -> str | None:
    """What makes a tar member unacceptable, or None for a regular file or directory."""
    if member.issym():
        return f"a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"a hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    if not (member.isreg() or member.isdir()):
        return f"of unsupported type {member.type!r}"
    return None


def _extract_zip(archive: Path, target: Path, max_bytes: int | None) -> list[PurePosixPath]:
    plan = _Plan(max_bytes)
    with zipfile.ZipFile(archive) as bundle:
        members = []
        for info in bundle.infolist():
            path = _member_path(info.filename)
            if not path.parts:
                continue
            kind = _zip_kind(info)
            if kind:
                raise _Refused(f"member {info.filename!r} is {kind}")
            plan.add(info.filename, path, is_dir=info.is_dir(), size=info.file_size)
            members.append((info, path))
        with storage.atomic_dir(target) as staging:
            root = staging.resolve()
            for info, path in members:
                destination = staging / path
                if not destination.resolve().is_relative_to(root):  # defence in depth
                    raise _Refused(f"member {info.filename!r} resolves outside the target")
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)  # zipfile checks size and CRC as it reads
    return sorted(plan.files)


def _zip_kind(info: zipfile.ZipInfo) -> str | None:
    if info.flag_bits & 0x1:
        return "encrypted"
    mode = info.external_attr >> 16  # Unix mode bits, when the archive was made on Unix
    if info.create_system == 3 and mode:
        if stat.S_ISLNK(mode):
            return "a symbolic link"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return "a device"
        if stat.S_ISFIFO(mode):
            return "a FIFO"
        if stat.S_ISSOCK(mode):
            return "a socket"
    return None
