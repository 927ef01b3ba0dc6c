"""Safe extraction of zip and tar archives.

kdseg writes every member itself; it does not rely on the standard library's extraction
filters, whose protection differs between Python versions. Before anything is written, every
member is checked and refused, with its name and the reason, when its path is absolute or
leaves the target through ``..``, when its path or a link's target passes through a link of the
archive (whatever the order of the members), when a link points outside the target, when a
hard link does not refer to a file before it, or when it is a device, fifo or other special
file. The sizes the headers declare are compared with :class:`Limits` before writing, and the
bytes actually written are counted against the same limits while writing. A tar must end with
its end-of-archive marker (a tar cut at a member boundary otherwise reads as complete).
Extraction goes into a temporary sibling folder that becomes the target only when complete, so
a refused, bad or truncated archive leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import logging
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from kdseg.errors import KdsegError
from kdseg.runtime.atomic import atomic_dir

log = logging.getLogger("kdseg")

CHUNK = 1 << 20
# Archives expanding to less than this are not held to ``max_ratio`` (a few small text files
# compress far better than images, and cannot fill a disk).
RATIO_FLOOR = 1 << 20
LONGEST_LINK = 4096
# What reading a damaged archive raises (gzip/bz2 raise OSError subclasses).
READ_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


@dataclass(frozen=True)
class Limits:
    """How far an archive may expand: ``max_bytes`` in all, and ``max_ratio`` times the
    archive's own size (not applied below :data:`RATIO_FLOOR`)."""

    max_bytes: int = 512 << 30
    max_ratio: float = 200.0

    def allowed(self, archive_bytes: int) -> tuple[int, str]:
        """The most bytes an archive of ``archive_bytes`` may expand to, and which key says so."""
        by_ratio = int(self.max_ratio * archive_bytes)
        if self.max_bytes <= max(by_ratio, RATIO_FLOOR):
            return self.max_bytes, f"extract.max_bytes = {self.max_bytes:,}"
        why = f"extract.max_ratio = {self.max_ratio:g} times the archive's {archive_bytes:,} bytes"
        if by_ratio < RATIO_FLOOR:
            return RATIO_FLOOR, f"{why} (and {RATIO_FLOOR:,} bytes at least)"
        return by_ratio, why


class _Refused(Exception):
    """Why one member is refused (completed into a KdsegError naming the archive and member)."""


class _ReadFailed(Exception):
    """Reading a member's data failed: the archive is truncated or corrupt."""


@dataclass
class _Entry:
    """One member: ``name`` as stored, ``parts`` its path inside the target."""

    name: str
    kind: str  # "file", "dir", "symlink" or "hardlink"
    parts: tuple[str, ...]
    link: str = ""
    mode: int = 0o644
    mtime: float | None = None
    member: Any = None


class _Budget:
    """Bytes declared by the headers and bytes written, against the archive's limit."""

    def __init__(self, archive: Path, limits: Limits) -> None:
        self.archive = archive
        self.limit, self.why = limits.allowed(archive.stat().st_size)
        self.declared = self.written = 0

    def declare(self, size: int) -> None:
        self.declared += max(size, 0)
        if self.declared > self.limit:
            raise KdsegError(
                f"{self.archive}: refused: its members declare at least {self.declared:,} bytes, "
                f"more than the {self.limit:,} allowed by {self.why}; nothing was extracted"
            )

    def write(self, size: int, name: str) -> None:
        self.written += size
        if self.written > self.limit:
            raise KdsegError(
                f"{self.archive}: refused: member '{name}' took the bytes written past the "
                f"{self.limit:,} allowed by {self.why}, more than the headers declared; "
                "nothing was kept"
            )


# Paths ----------------------------------------------------------------------------------------


def _escapes(name: str) -> bool:
    """Whether a member path, taken relative to the target, points outside it."""
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or ":" in name[:3]:
        return True
    normal = posixpath.normpath(name.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def _link_escapes(member: str, link: str) -> bool:
    """Whether a symbolic link ``member -> link`` resolves outside the target, lexically."""
    if link.startswith(("/", "\\")) or ":" in link[:3]:
        return True
    return _escapes(posixpath.join(posixpath.dirname(member), link))


def _split(path: str) -> list[str]:
    return [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]


def _key(parts: Collection[str]) -> str:
    """A path as compared with links: case and Unicode form folded (as some file systems do)."""
    return unicodedata.normalize("NFC", "/".join(parts)).casefold()


def _follow(base: tuple[str, ...], path: str, links: Collection[str]) -> tuple[str, ...]:
    """``path`` taken from folder ``base``, one component at a time as the kernel would.
    Refused when it leaves the target or when it goes on past a link (a link is only allowed
    as the last component)."""
    out = list(base)
    for part in _split(path):
        if out and _key(out) in links:
            raise _Refused(f"passes through the link '{'/'.join(out)}'")
        if part == "..":
            if not out:
                raise _Refused("leaves the target")
            out.pop()
        else:
            out.append(part)
    return tuple(out)


# Checks ---------------------------------------------------------------------------------------


def _check_entry(entry: _Entry, links: Collection[str], earlier: set[str]) -> None:
    if _escapes(entry.name):
        raise _Refused("would be written outside the target")
    if _follow((), entry.name, links) != entry.parts:  # a '..' inside the name
        raise _Refused("has '..' in its path")
    if not entry.parts and entry.kind != "dir":
        raise _Refused("has an empty path")
    if entry.kind in ("file", "dir") and _key(entry.parts) in links:
        raise _Refused(f"would replace the link '{'/'.join(entry.parts)}'")
    if entry.kind == "symlink":
        _check_symlink(entry, links)
    elif entry.kind == "hardlink":
        _check_hardlink(entry, links, earlier)
    if entry.kind != "dir":
        earlier.add(_key(entry.parts))


def _check_symlink(entry: _Entry, links: Collection[str]) -> None:
    outside = f"is a link to '{entry.link}', outside the target"
    if _link_escapes(entry.name, entry.link):
        raise _Refused(outside)
    try:
        _follow(entry.parts[:-1], entry.link, links)
    except _Refused as why:
        if str(why) == "leaves the target":
            raise _Refused(outside) from None
        raise _Refused(f"is a link to '{entry.link}', which {why}") from None


def _check_hardlink(entry: _Entry, links: Collection[str], earlier: set[str]) -> None:
    if _escapes(entry.link):
        raise _Refused(f"is a hard link to '{entry.link}', outside the target")
    try:
        target = _follow((), entry.link, links)
    except _Refused as why:
        raise _Refused(f"is a hard link to '{entry.link}', which {why}") from None
    if _key(target) not in earlier:
        raise _Refused(f"is a hard link to '{entry.link}', not to a file before it in the archive")


def _check(archive: Path, entries: list[_Entry]) -> None:
    """Refuse the archive at its first unsafe member (links are known before any check, so
    the order of the members does not matter)."""
    links = {_key(e.parts) for e in entries if e.kind in ("symlink", "hardlink")}
    earlier: set[str] = set()
    for entry in entries:
        try:
            _check_entry(entry, links, earlier)
        except _Refused as why:
            raise KdsegError(f"{archive}: member '{entry.name}' {why}") from None


# Reading the members --------------------------------------------------------------------------


def _tar_entry(archive: Path, member: tarfile.TarInfo) -> _Entry:
    parts = tuple(_split(member.name))
    if member.isfile():
        kind = "file"
    elif member.isdir():
        kind = "dir"
    elif member.issym():
        kind = "symlink"
    elif member.islnk():
        kind = "hardlink"
    else:
        raise KdsegError(
            f"{archive}: member '{member.name}' is a device, fifo or other special file"
        )
    link = member.linkname if kind in ("symlink", "hardlink") else ""
    return _Entry(member.name, kind, parts, link, member.mode, member.mtime, member)


def _tar_entries(archive: Path, tar: tarfile.TarFile, budget: _Budget) -> list[_Entry]:
    """Every member's header, read one at a time so that a bomb is refused early."""
    entries = []
    while (member := tar.next()) is not None:
        entries.append(_tar_entry(archive, member))
        if member.isfile():
            budget.declare(member.size)
    return entries


def _zip_entry(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    mode = info.external_attr >> 16
    parts = tuple(_split(info.filename))
    if info.is_dir() or stat.S_ISDIR(mode):
        return _Entry(info.filename, "dir", parts, member=info)
    if stat.S_ISLNK(mode):
        if info.file_size > LONGEST_LINK:
            raise KdsegError(
                f"{archive}: member '{info.filename}' is a link of {info.file_size:,} bytes"
            )
        link = zf.read(info).decode("utf-8", "replace")
        return _Entry(info.filename, "symlink", parts, link, member=info)
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        raise KdsegError(
            f"{archive}: member '{info.filename}' is a device, fifo or other special file"
        )
    return _Entry(info.filename, "file", parts, mode=mode or 0o644, member=info)


def _zip_entries(archive: Path, zf: zipfile.ZipFile, budget: _Budget) -> list[_Entry]:
    entries = []
    for info in zf.infolist():
        entries.append(_zip_entry(archive, zf, info))
        if entries[-1].kind == "file":
            budget.declare(info.file_size)
    return entries


# Writing --------------------------------------------------------------------------------------


def _inside(root: str, folder: Path) -> None:
    """A last guard, before anything is created: ``folder``, resolved by the file system as far
    as it exists, is inside ``root``."""
    real = os.path.realpath(folder)
    if real != root and not real.startswith(root + os.sep):
        raise _Refused(f"would be written to {real}, outside the target")


def _copy(source: IO[bytes], path: Path, entry: _Entry, budget: _Budget) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o666), "wb") as out:
        while True:
            try:
                block = source.read(CHUNK)
            except READ_ERRORS as err:
                raise _ReadFailed(str(err)) from err
            if not block:
                break
            budget.write(len(block), entry.name)
            out.write(block)
    if entry.mode & 0o111:  # executable: as readable, under the umask
        mode = path.stat().st_mode
        path.chmod(mode | (mode & 0o444) >> 2)
    if entry.mtime is not None:
        with contextlib.suppress(OverflowError, ValueError, OSError):
            os.utime(path, (entry.mtime, entry.mtime))


def _write(
    dest: Path, entry: _Entry, open_member: Callable[[_Entry], IO[bytes]], budget: _Budget
) -> None:
    path = dest.joinpath(*entry.parts)
    _inside(str(dest), path if entry.kind == "dir" else path.parent)
    if entry.kind == "dir":
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if entry.kind in ("symlink", "hardlink") and path.is_symlink():
        path.unlink()  # the same link twice in one archive: the later one counts
    if entry.kind == "symlink":
        os.symlink(entry.link, path)
    elif entry.kind == "hardlink":
        target = dest.joinpath(*_follow((), entry.link, ()))
        os.link(target, path, follow_symlinks=False)
    else:
        try:
            source = open_member(entry)
        except READ_ERRORS as err:
            raise _ReadFailed(str(err)) from err
        with source:
            _copy(source, path, entry, budget)


def _write_all(
    archive: Path,
    dest: Path,
    entries: list[_Entry],
    open_member: Callable[[_Entry], IO[bytes]],
    budget: _Budget,
) -> None:
    dest = Path(os.path.realpath(dest))
    for entry in entries:
        try:
            _write(dest, entry, open_member, budget)
        except _Refused as why:
            raise KdsegError(f"{archive}: member '{entry.name}' {why}") from None
        except _ReadFailed as err:
            raise KdsegError(
                f"{archive}: truncated or corrupt archive: member '{entry.name}' cannot be "
                f"read ({err})"
            ) from err
        except (OSError, ValueError) as err:
            raise KdsegError(
                f"{archive}: member '{entry.name}' cannot be written into {dest}: {err}"
            ) from err


def _check_tar_end(archive: Path, tar: tarfile.TarFile, entries: list[_Entry]) -> None:
    """A tar ends with a zero block; without it the archive was cut (the standard library
    stops silently at a missing or partial header)."""
    try:
        tar.fileobj.seek(tar.offset)
        block = tar.fileobj.read(tarfile.BLOCKSIZE)
    except READ_ERRORS as err:
        raise KdsegError(f"{archive}: truncated or corrupt archive ({err})") from err
    if block != tarfile.NUL * tarfile.BLOCKSIZE:
        last = f"after member '{entries[-1].name}'" if entries else "before its first member"
        raise KdsegError(
            f"{archive}: truncated or corrupt archive: it ends {last} without the "
            "end-of-archive marker"
        )


@contextlib.contextmanager
def _reading(archive: Path) -> Iterator[None]:
    """Errors of the archive's reader: a truncated or corrupt archive."""
    try:
        yield
    except READ_ERRORS as err:
        raise KdsegError(f"{archive}: truncated or corrupt archive ({err})") from err


def _extract_tar(archive: Path, dest: Path, limits: Limits) -> None:
    budget = _Budget(archive, limits)
    with _reading(archive), tarfile.open(archive) as tar:
        entries = _tar_entries(archive, tar, budget)
        _check(archive, entries)
        _write_all(archive, dest, entries, lambda e: tar.extractfile(e.member), budget)
        _check_tar_end(archive, tar, entries)


def _extract_zip(archive: Path, dest: Path, limits: Limits) -> None:
    budget = _Budget(archive, limits)
    with _reading(archive), zipfile.ZipFile(archive) as zf:
        entries = _zip_entries(archive, zf, budget)
        _check(archive, entries)
        _write_all(archive, dest, entries, lambda e: zf.open(e.member), budget)


def is_archive(path: str | Path) -> bool:
    """Whether ``path`` is a zip or tar file (by content, not by name)."""
    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def safe_extract(archive: str | Path, target: str | Path, limits: Limits | None = None) -> Path:
    """Extract a zip or tar(.gz/.bz2/.xz) ``archive`` into ``target`` (replacing it), within
    ``limits`` (the defaults when not given)."""
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise KdsegError(f"{archive}: archive not found")
    if zipfile.is_zipfile(archive):
        extract = _extract_zip
    elif tarfile.is_tarfile(archive):
        extract = _extract_tar
    else:
        raise KdsegError(f"{archive}: not a zip or tar archive (or truncated)")
    log.info("extracting %s -> %s", archive, target)
    try:
        with atomic_dir(target) as tmp:
            extract(archive, tmp, limits or Limits())
    except OSError as err:  # the reader's errors are KdsegErrors by now
        raise KdsegError(f"{archive}: cannot extract into {target}: {err}") from err
    return target


# A user's folder ------------------------------------------------------------------------------


def _folder_links(source: Path) -> Iterator[Path]:
    """Every symbolic link under ``source`` (links to folders are not followed)."""
    for folder, dirs, files in os.walk(source):
        for name in (*dirs, *files):
            path = Path(folder, name)
            if path.is_symlink():
                yield path


def _special_files(source: Path) -> Iterator[Path]:
    """Every fifo, device or socket under ``source`` (copying a fifo would block)."""
    for folder, _, files in os.walk(source):
        for name in files:
            path = Path(folder, name)
            if not stat.S_ISREG(path.lstat().st_mode) and not path.is_symlink():
                yield path


def _check_folder(source: Path) -> None:
    """Refuse a fifo, device or socket, and a link that points outside ``source``: lexically,
    or once the file system has followed every link on the way (a chain through a link to a
    shallower folder)."""
    for path in _special_files(source):
        raise KdsegError(
            f"{path}: not a regular file (a fifo, device or socket); kdseg copies only files, "
            "folders and links from a source folder"
        )
    root = os.path.realpath(source)
    for path in _folder_links(source):
        link = os.readlink(path)
        real = os.path.realpath(path)
        rel = path.relative_to(source).as_posix()
        if _link_escapes(rel, link) or (real != root and not real.startswith(root + os.sep)):
            raise KdsegError(f"{path}: a link to '{link}', which leads to {real}, outside {source}")


def copy_folder(source: str | Path, target: str | Path) -> Path:
    """Copy an already extracted folder into ``target`` (replacing it), with the same checks:
    links that point outside ``source``, directly or through other links, are refused."""
    source, target = Path(source), Path(target)
    _check_folder(source)
    with atomic_dir(target) as tmp:
        shutil.copytree(source, tmp, symlinks=True, dirs_exist_ok=True)
    return target
