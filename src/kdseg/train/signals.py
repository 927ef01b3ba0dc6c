"""SIGTERM in training jobs (what SLURM sends at the time limit, ``KillWait`` seconds before
SIGKILL): inside the training loop it is only noted, and the loop acts on it at the next step
boundary (a last checkpoint, then :class:`TrainingStopped`); the loader's workers ignore it
(the training process decides when they stop); outside the loop it ends the process through
``SystemExit``."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

from kdseg.errors import KdsegError

log = logging.getLogger("kdseg")


class TrainingStopped(KdsegError):
    """SIGTERM stopped training at a step boundary (after a last checkpoint)."""


@contextlib.contextmanager
def sigterm_noted() -> Iterator[list[int]]:
    """While training in the main thread, SIGTERM is only noted (the loop acts on it)."""
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: noted.append(signum))
    try:
        yield noted
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def ignore_sigterm(_worker: int) -> None:
    """Loader workers outlive SIGTERM: their death would end the step before its checkpoint."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def exit_on_sigterm() -> None:
    """Outside the training loop, SIGTERM ends the process through ``SystemExit``, so that
    atomic writes remove their temporaries (for training jobs' entry points)."""

    def stop(signum: int, _frame: Any) -> None:
        log.error("stopped by SIGTERM")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
