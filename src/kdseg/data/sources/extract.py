"""Safe extraction of zip and tar archives.

Every member is checked before anything is written: absolute paths, ``..`` components, links
that point (or hard links that refer) outside the target, and device or fifo members are refused
with the member's name. The archive is then extracted into a temporary sibling folder that
becomes the target only when complete (tar members additionally go through Python's ``data``
extraction filter, PEP 706), so a bad or truncated archive leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from kdseg.atomic import atomic_dir
from kdseg.errors import KdsegError

log = logging.getLogger("kdseg")


def _escapes(name: str) -> bool:
    """Whether a member path, taken relative to the target, points outside it."""
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or ":" in name[:3]:
        return True
    normal = posixpath.normpath(name.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def _link_escapes(member: str, link: str) -> bool:
    """Whether a symbolic link ``member -> link`` resolves outside the target."""
    if link.startswith("/"):
        return True
    return _escapes(posixpath.join(posixpath.dirname(member), link))


def _check_tar(archive: Path, tar: tarfile.TarFile) -> None:
    for m in tar.getmembers():
        if _escapes(m.name):
            raise KdsegError(f"{archive}: member '{m.name}' would be written outside the target")
        if m.issym() and _link_escapes(m.name, m.linkname):
            raise KdsegError(
                f"{archive}: member '{m.name}' is a link to '{m.linkname}', outside the target"
            )
        if m.islnk() and _escapes(m.linkname):
            raise KdsegError(
                f"{archive}: member '{m.name}' is a hard link to '{m.linkname}', outside the target"
            )
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise KdsegError(f"{archive}: member '{m.name}' is a device or fifo")


def _check_zip(archive: Path, zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        if _escapes(info.filename):
            raise KdsegError(
                f"{archive}: member '{info.filename}' would be written outside the target"
            )
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            link = zf.read(info).decode("utf-8", "replace")
            if _link_escapes(info.filename, link):
                raise KdsegError(
                    f"{archive}: member '{info.filename}' is a link to '{link}', outside the target"
                )


def _extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tar:
        _check_tar(archive, tar)
        tar.extractall(dest, filter="data")


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        _check_zip(archive, zf)
        bad = zf.testzip()
        if bad is not None:
            raise KdsegError(f"{archive}: member '{bad}' is corrupt (CRC mismatch)")
        zf.extractall(dest)


def is_archive(path: str | Path) -> bool:
    """Whether ``path`` is a zip or tar file (by content, not by name)."""
    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def safe_extract(archive: str | Path, target: str | Path) -> Path:
    """Extract a zip or tar(.gz/.bz2/.xz) ``archive`` into ``target`` (replacing it)."""
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
            extract(archive, tmp)
    except KdsegError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise KdsegError(f"{archive}: truncated or corrupt archive ({err})") from err
    return target


def copy_folder(source: str | Path, target: str | Path) -> Path:
    """Copy an already extracted folder into ``target`` (replacing it), with the same checks:
    links that point outside ``source`` are refused."""
    source, target = Path(source), Path(target)
    for path in source.rglob("*"):
        if path.is_symlink():
            link = os.readlink(path)
            rel = path.relative_to(source).as_posix()
            if _link_escapes(rel, link):
                raise KdsegError(f"{path}: a link to '{link}', outside {source}")
    with atomic_dir(target) as tmp:
        shutil.copytree(source, tmp, symlinks=True, dirs_exist_ok=True)
    return target
