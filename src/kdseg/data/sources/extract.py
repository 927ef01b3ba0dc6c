"""Safe extraction of zip and tar archives, and a safe copy of an already extracted folder.

kdseg writes every member itself; it does not rely on the standard library's extraction
filters, whose protection differs between Python versions. Every member is checked before
anything is written (:mod:`kdseg.data.sources.archive_checks`), and the bytes actually written
are counted against the archive's :class:`Limits` while writing. A tar must end with its
end-of-archive marker (a tar cut at a member boundary otherwise reads as complete). Extraction
goes into a temporary sibling folder that becomes the target only when complete, so a refused,
bad or truncated archive leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import logging
import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from kdseg.data.sources.archive_checks import (
    Budget,
    Entry,
    Limits,
    Refused,
    check_members,
    follow,
    link_escapes,
    split_path,
)
from kdseg.errors import KdsegError
from kdseg.runtime.atomic import atomic_dir

log = logging.getLogger("kdseg")

CHUNK = 1 << 20
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


class _ReadFailed(Exception):
    """Reading a member's data failed: the archive is truncated or corrupt."""


# Reading the members --------------------------------------------------------------------------


def _tar_entry(archive: Path, member: tarfile.TarInfo) -> Entry:
    parts = tuple(split_path(member.name))
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
    return Entry(member.name, kind, parts, link, member.mode, member.mtime, member)


def _tar_entries(archive: Path, tar: tarfile.TarFile, budget: Budget) -> list[Entry]:
    """Every member's header, read one at a time so that a bomb is refused early."""
    entries = []
    while (member := tar.next()) is not None:
        entries.append(_tar_entry(archive, member))
        if member.isfile():
            budget.declare(member.size)
    return entries


def _zip_entry(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Entry:
    mode = info.external_attr >> 16
    parts = tuple(split_path(info.filename))
    if info.is_dir() or stat.S_ISDIR(mode):
        return Entry(info.filename, "dir", parts, member=info)
    if stat.S_ISLNK(mode):
        if info.file_size > LONGEST_LINK:
            raise KdsegError(
                f"{archive}: member '{info.filename}' is a link of {info.file_size:,} bytes"
            )
        link = zf.read(info).decode("utf-8", "replace")
        return Entry(info.filename, "symlink", parts, link, member=info)
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        raise KdsegError(
            f"{archive}: member '{info.filename}' is a device, fifo or other special file"
        )
    return Entry(info.filename, "file", parts, mode=mode or 0o644, member=info)


def _zip_entries(archive: Path, zf: zipfile.ZipFile, budget: Budget) -> list[Entry]:
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
        raise Refused(f"would be written to {real}, outside the target")


def _copy(source: IO[bytes], path: Path, entry: Entry, budget: Budget) -> None:
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
    dest: Path, entry: Entry, open_member: Callable[[Entry], IO[bytes]], budget: Budget
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
        target = dest.joinpath(*follow((), entry.link, ()))
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
    entries: list[Entry],
    open_member: Callable[[Entry], IO[bytes]],
    budget: Budget,
) -> None:
    dest = Path(os.path.realpath(dest))
    for entry in entries:
        try:
            _write(dest, entry, open_member, budget)
        except Refused as why:
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


def _check_tar_end(archive: Path, tar: tarfile.TarFile, entries: list[Entry]) -> None:
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
    budget = Budget(archive, limits)
    with _reading(archive), tarfile.open(archive) as tar:
        entries = _tar_entries(archive, tar, budget)
        check_members(archive, entries)
        _write_all(archive, dest, entries, lambda e: tar.extractfile(e.member), budget)
        _check_tar_end(archive, tar, entries)


def _extract_zip(archive: Path, dest: Path, limits: Limits) -> None:
    budget = Budget(archive, limits)
    with _reading(archive), zipfile.ZipFile(archive) as zf:
        entries = _zip_entries(archive, zf, budget)
        check_members(archive, entries)
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
        if link_escapes(rel, link) or (real != root and not real.startswith(root + os.sep)):
            raise KdsegError(f"{path}: a link to '{link}', which leads to {real}, outside {source}")


def copy_folder(source: str | Path, target: str | Path) -> Path:
    """Copy an already extracted folder into ``target`` (replacing it), with the same checks:
    links that point outside ``source``, directly or through other links, are refused."""
    source, target = Path(source), Path(target)
    _check_folder(source)
    with atomic_dir(target) as tmp:
        shutil.copytree(source, tmp, symlinks=True, dirs_exist_ok=True)
    return target
