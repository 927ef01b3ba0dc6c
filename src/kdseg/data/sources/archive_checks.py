"""The checks of an archive's members, made before anything is written.

A member is refused, with its name and the reason, when its path is absolute or leaves the
target through ``..``, when its path or a link's target passes through a link of the archive
(whatever the order of the members), when a link points outside the target, or when a hard link
does not refer to a file before it. The sizes the headers declare are compared with
:class:`Limits` (:class:`Budget`), which also counts the bytes written.
"""

from __future__ import annotations

import posixpath
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kdseg.errors import KdsegError

# Archives expanding to less than this are not held to ``max_ratio`` (a few small text files
# compress far better than images, and cannot fill a disk).
RATIO_FLOOR = 1 << 20


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


class Refused(Exception):
    """Why one member is refused (completed into a KdsegError naming the archive and member)."""


@dataclass
class Entry:
    """One member: ``name`` as stored, ``parts`` its path inside the target."""

    name: str
    kind: str  # "file", "dir", "symlink" or "hardlink"
    parts: tuple[str, ...]
    link: str = ""
    mode: int = 0o644
    mtime: float | None = None
    member: Any = None


class Budget:
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


def link_escapes(member: str, link: str) -> bool:
    """Whether a symbolic link ``member -> link`` resolves outside the target, lexically."""
    if link.startswith(("/", "\\")) or ":" in link[:3]:
        return True
    return _escapes(posixpath.join(posixpath.dirname(member), link))


def split_path(path: str) -> list[str]:
    """A member path's components, without empty ones and ".", "\\" read as "/"."""
    return [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]


def _key(parts: Collection[str]) -> str:
    """A path as compared with links: case and Unicode form folded (as some file systems do)."""
    return unicodedata.normalize("NFC", "/".join(parts)).casefold()


def follow(base: tuple[str, ...], path: str, links: Collection[str]) -> tuple[str, ...]:
    """``path`` taken from folder ``base``, one component at a time as the kernel would.
    Refused when it leaves the target or when it goes on past a link (a link is only allowed
    as the last component)."""
    out = list(base)
    for part in split_path(path):
        if out and _key(out) in links:
            raise Refused(f"passes through the link '{'/'.join(out)}'")
        if part == "..":
            if not out:
                raise Refused("leaves the target")
            out.pop()
        else:
            out.append(part)
    return tuple(out)


# Checks ---------------------------------------------------------------------------------------


def _check_entry(entry: Entry, links: Collection[str], earlier: set[str]) -> None:
    if _escapes(entry.name):
        raise Refused("would be written outside the target")
    if follow((), entry.name, links) != entry.parts:  # a '..' inside the name
        raise Refused("has '..' in its path")
    if not entry.parts and entry.kind != "dir":
        raise Refused("has an empty path")
    if entry.kind in ("file", "dir") and _key(entry.parts) in links:
        raise Refused(f"would replace the link '{'/'.join(entry.parts)}'")
    if entry.kind == "symlink":
        _check_symlink(entry, links)
    elif entry.kind == "hardlink":
        _check_hardlink(entry, links, earlier)
    if entry.kind != "dir":
        earlier.add(_key(entry.parts))


def _check_symlink(entry: Entry, links: Collection[str]) -> None:
    outside = f"is a link to '{entry.link}', outside the target"
    if link_escapes(entry.name, entry.link):
        raise Refused(outside)
    try:
        follow(entry.parts[:-1], entry.link, links)
    except Refused as why:
        if str(why) == "leaves the target":
            raise Refused(outside) from None
        raise Refused(f"is a link to '{entry.link}', which {why}") from None


def _check_hardlink(entry: Entry, links: Collection[str], earlier: set[str]) -> None:
    if _escapes(entry.link):
        raise Refused(f"is a hard link to '{entry.link}', outside the target")
    try:
        target = follow((), entry.link, links)
    except Refused as why:
        raise Refused(f"is a hard link to '{entry.link}', which {why}") from None
    if _key(target) not in earlier:
        raise Refused(f"is a hard link to '{entry.link}', not to a file before it in the archive")


def check_members(archive: Path, entries: list[Entry]) -> None:
    """Refuse the archive at its first unsafe member (links are known before any check, so
    the order of the members does not matter)."""
    links = {_key(e.parts) for e in entries if e.kind in ("symlink", "hardlink")}
    earlier: set[str] = set()
    for entry in entries:
        try:
            _check_entry(entry, links, earlier)
        except Refused as why:
            raise KdsegError(f"{archive}: member '{entry.name}' {why}") from None
