"""Atomic outputs: write to a temporary sibling, then rename into place.

An interrupted job therefore never leaves a file or folder that looks finished. Outputs may be
shared between runs (one ``data_dir`` for studies in several folders), so a write also:

- holds the target's exclusive lock (:mod:`kdseg.runtime.locks`) from creating its temporary
  until the new version is in place: a second run writing the same target waits, and a run
  reading it under :func:`kdseg.runtime.locks.reading` is never shown a missing or
  half-replaced folder;
- replaces an existing folder by swapping the two names atomically (Linux ``renameat2``; else
  rename the old one aside, then the new one in), then removes the old version: the target
  never disappears, and nothing is deleted while it is in place;
- removes temporaries of the same target left by killed runs. Temporaries are hidden siblings
  ``.<name>.<8 random characters>.tmp[suffix]``; under the exclusive lock no other live
  writer of that target exists, so every other one is stale (temporaries are found by name on
  the next write of the same target, i.e. the next run of the job);
- creates files and folders as ``open``/``mkdir`` do: mode 0o666 / 0o777 less the umask (not
  owner-only), so colleagues can read a shared ``data_dir`` when the umask lets them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kdseg.runtime.locks import writing

log = logging.getLogger("kdseg")
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
# 8 characters of [a-z0-9_] covers these temporaries (hex) and older ones (tempfile's names).
_RANDOM = r"[a-z0-9_]{8}\.tmp"


def _temp_name(target: Path, suffix: str) -> Path:
    return target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp{suffix}"


def temporaries_of(target: str | os.PathLike) -> list[Path]:
    """Temporaries of ``target`` beside it, from any run (live or killed)."""
    target = Path(target)
    prefix = f".{target.name}."
    pattern = re.compile(re.escape(prefix) + _RANDOM)
    with os.scandir(target.parent) as entries:
        names = [e.name for e in entries if e.name.startswith(prefix)]
    return [target.parent / n for n in sorted(names) if pattern.match(n)]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_stale(target: Path) -> None:
    """Remove what killed runs left while writing ``target`` (call under its lock)."""
    for tmp in temporaries_of(target):
        log.info("removing %s, left by an interrupted run", tmp)
        _remove(tmp)


def _new_file(target: Path, suffix: str) -> Path:
    while True:
        tmp = _temp_name(target, suffix)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def _new_dir(target: Path) -> Path:
    while True:
        tmp = _temp_name(target, "")
        try:
            os.mkdir(tmp, 0o777)
            return tmp
        except FileExistsError:
            continue


@functools.cache
def _renameat2() -> Any:
    """The C library's ``renameat2`` (Linux, glibc >= 2.28), or None."""
    func = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if func is not None:
        func.argtypes = [
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_uint,
        ]
    return func


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one step; False where the system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _put_in_place(tmp: Path, target: Path) -> Path | None:
    """Rename ``tmp`` to ``target``; returns the old version, now under a temporary name."""
    if not os.path.lexists(target):
        os.replace(tmp, target)
        return None
    if _exchange(tmp, target):
        return tmp
    old = _temp_name(target, ".old")
    os.rename(target, old)
    os.rename(tmp, target)
    return old


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    ``suffix`` defaults to the target's full suffix (e.g. ``.nii.gz``) so that writers
    that choose a format by extension behave the same. The file exists (empty) on entry.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(target.suffixes)
    with writing(target) as held:
        if held:
            _remove_stale(target)
        tmp = _new_file(target, suffix)
        try:
            yield tmp
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``path``; it replaces ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with writing(target) as held:
        if held:
            _remove_stale(target)
        tmp = _new_dir(target)
        try:
            yield tmp
            old = _put_in_place(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if old is not None:  # no longer reachable by its name: removed without holding readers
        _remove(old)


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_npy(path: str | os.PathLike, array: Any) -> None:
    """Save an uncompressed ``.npy`` (memory-mappable), atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)
