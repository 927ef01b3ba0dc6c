"""Locks on outputs that several runs may share (``<data_dir>`` of studies in other folders).

A target's lock is ``fcntl.flock`` on a hidden ``.<name>.lock`` file *beside* it (never inside
it). Writers (:mod:`kdseg.runtime.atomic`) hold it exclusively from the start of their
write until the new version is in place; readers hold it shared with :func:`reading` while
they read. So a run never replaces or deletes what another run is reading, and two runs
never write one target at the same time (the second waits, then writes its own version).

The lock file exists only while someone holds the lock: the last holder removes it (after a
kill it stays, empty and harmless, until the next use). A run that waits says so in its log.
The kernel drops the locks of a killed process. On NFS, Linux emulates ``flock`` with
byte-range locks, which work between machines when the NFS lock service does. Where no lock
can be taken (a read-only folder, no lock support) the run goes ahead unlocked and logs it.

Locks are advisory: they order kdseg's own writers and readers. Snakemake removes a job's
existing outputs before running it, without them (see ``rules/``). So a run (not a dry run)
also holds its study folder's lock for as long as Snakemake runs (:func:`hold_until_exit`,
taken in ``rules/common.smk``): Snakemake's own lock covers one working directory only, and a
second run of the study from another one, with the same absolute ``results_dir``, is refused.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from kdseg.errors import KdsegError

T = TypeVar("T")

log = logging.getLogger("kdseg")
_held = threading.local()  # lock path -> list of modes (True: exclusive) held by this thread


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file of ``target``: ``.<name>.lock`` in the same folder."""
    target = Path(os.path.abspath(target))
    return target.parent / f".{target.name}.lock"


def _held_here() -> dict[str, list[bool]]:
    if not hasattr(_held, "locks"):
        _held.locks = {}
    return _held.locks


def _check_not_held(target: Path, lock: Path, exclusive: bool) -> None:
    """A thread that already holds the lock incompatibly would wait for itself forever."""
    modes = _held_here().get(str(lock), [])
    if modes and (exclusive or any(modes)):
        raise KdsegError(
            f"{target}: already locked by this process for "
            f"{'writing' if any(modes) else 'reading'}; it cannot also be "
            f"{'written' if exclusive else 'read'} here (it would wait for itself)"
        )


def _open(lock: Path) -> int:
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)  # 0o666 & ~umask
    except PermissionError:
        return os.open(lock, os.O_RDONLY)  # a colleague's lock file: flock needs no write


def _same_file(fd: int, lock: Path) -> bool:
    """Whether ``fd`` is still the file at ``lock`` (the last holder may have removed it)."""
    try:
        on_disk = os.stat(lock)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _acquire(target: Path, lock: Path, exclusive: bool) -> int:
    """An open descriptor of ``lock`` holding the lock; waits (and logs once) if needed."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    said = False
    while True:
        fd = _open(lock)
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if not said:
                    what = "write" if exclusive else "read"
                    log.info("%s: waiting for another run before I %s it", target, what)
                    said = True
                fcntl.flock(fd, mode)
            if _same_file(fd, lock):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # removed while we waited: lock the new file


def _release(fd: int, lock: Path, exclusive: bool) -> None:
    """Unlock; the last holder removes the lock file."""
    try:
        if not exclusive:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while others read
        if _same_file(fd, lock):
            os.unlink(lock)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(target: str | os.PathLike, exclusive: bool) -> Iterator[bool]:
    """Hold ``target``'s lock (exclusive: for writing; shared: for reading); yields whether it
    is held. Where no lock can be taken (no write permission beside a colleague's read-only
    data, a folder that does not exist yet, a filesystem without locks) the caller goes ahead
    unlocked, as before locks existed, and the log says so."""
    target = Path(target)
    lock = lock_path(target)
    _check_not_held(target, lock, exclusive)
    try:
        fd = _acquire(target, lock, exclusive)
    except OSError as err:
        log.info("%s: going ahead without a lock (%s)", target, err)
        yield False
        return
    modes = _held_here().setdefault(str(lock), [])
    modes.append(exclusive)
    try:
        yield True
    finally:
        modes.remove(exclusive)
        if not modes:
            del _held_here()[str(lock)]
        _release(fd, lock, exclusive)


def reading(target: str | os.PathLike) -> contextlib.AbstractContextManager[bool]:
    """Read ``target`` (a shared folder or file) while no run replaces it."""
    return locked(target, exclusive=False)


def writing(target: str | os.PathLike) -> contextlib.AbstractContextManager[bool]:
    """Write ``target`` while no other run reads or writes it."""
    return locked(target, exclusive=True)


def reads(argument: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a function to run under the shared lock of its path argument ``argument``
    (e.g. a raw dataset that may live in a ``data_dir`` shared with other studies)."""

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def locked_call(*args: Any, **kwargs: Any) -> T:
            path = signature.bind(*args, **kwargs).arguments[argument]
            with reading(path):
                return func(*args, **kwargs)

        return locked_call

    return decorate


_for_process: dict[str, int] = {}  # lock path -> descriptor held until this process ends


def hold_until_exit(target: str | os.PathLike, refusal: str) -> bool:
    """Hold ``target``'s lock exclusively until this process ends (the kernel drops it when the
    process dies; a clean exit also removes the lock file). Another process holding it is
    refused at once with the one-line ``refusal``; where no lock can be taken, the process goes
    on unlocked and logs it. Returns whether the lock is held."""
    target = Path(target)
    lock = lock_path(target)
    if str(lock) in _for_process:
        return True
    while True:
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = _open(lock)
        except OSError as err:
            log.info("%s: going ahead without a lock (%s)", target, err)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise KdsegError(refusal) from None
        except OSError as err:
            os.close(fd)
            log.info("%s: going ahead without a lock (%s)", target, err)
            return False
        if _same_file(fd, lock):
            break
        os.close(fd)  # removed by its last holder meanwhile: lock the new file
    _for_process[str(lock)] = fd
    atexit.register(_release, fd, lock, True)
    return True


def hold_study(study_dir: str | os.PathLike) -> bool:
    """Hold a study folder for the whole of a run (:func:`hold_until_exit`): a second run of
    the study, from another working directory with the same absolute ``results_dir``, stops at
    once instead of deleting outputs the first run is using."""
    folder = os.path.abspath(study_dir)
    return hold_until_exit(
        f"{folder}.run",
        f"{folder}: another run of this study is using it (Snakemake's own lock covers one "
        "working directory only; this run may have started from another one): wait for it to "
        "finish, or give this run another results_dir or study name",
    )
