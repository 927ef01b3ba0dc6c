"""Running one pipeline step: logging to the job's log file and a clear one-line error."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kdseg.errors import KdsegError
from kdseg.runtime.gpu_slots import CLAIMED, claim_for_job

log = logging.getLogger("kdseg")

STARTED = "start-up {seconds:.2f} s (since the process began: interpreter, imports)"
"""The first line of a job's log: its fixed cost before any work."""
WARM_UP = "warm-up {seconds:.2f} s (one untimed case: first-call allocations, lazy imports)"
"""A predict job's line after its warm-up case, also a fixed cost of the job."""
FINISHED = "job done {seconds:.2f} s after its process began"
"""The last line of a job that succeeded."""
TIMED_LINES = {"startup": STARTED, "warmup": WARM_UP, "seconds": FINISHED}


def logged_times(text: str) -> dict[str, float]:
    """The seconds that a job's log ``text`` states in its :data:`TIMED_LINES` (those it has),
    as read by benchmarks/demo_stages.py and benchmarks/gpu_check.py."""
    found = {}
    for key, template in TIMED_LINES.items():
        pattern = re.escape(template).replace(re.escape("{seconds:.2f}"), r"([\d.]+)")
        if m := re.search(pattern, text):
            found[key] = float(m.group(1))
    return found


def process_seconds() -> float:
    """Seconds since this process began. Linux: its start in clock ticks since boot
    (``/proc/self/stat``) against the boot-time clock, both exact to 0.01 s (psutil's start time
    adds the boot time, which Linux rounds to whole seconds); elsewhere psutil's."""
    stat = Path("/proc/self/stat")
    if stat.exists() and hasattr(time, "CLOCK_BOOTTIME"):
        ticks = int(stat.read_text().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    import psutil  # here: only a job's first and last log lines need it

    return time.time() - psutil.Process().create_time()


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to ``log_file`` (Snakemake's ``log:``)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    root = logging.getLogger("kdseg")
    root.handlers.clear()
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


def run_job(job: Any, func: Callable[..., Any], **kwargs: Any) -> Any:
    """The harness of every workflow script: claim the job's GPUs (``resources.gpu``, outside
    SLURM), log to the job's log file, then :func:`run_step`. ``job``: Snakemake's
    ``snakemake`` object of the script."""
    claim_for_job(int(getattr(job.resources, "gpu", 0) or 0))
    return run_step(job.log[0] if job.log else None, func, **kwargs)


def run_step(log_file: str | Path | None, func: Callable[..., Any], **kwargs: Any) -> Any:
    """Run ``func(**kwargs)``; a KdsegError ends the process with its message, no traceback."""
    setup_logging(log_file)
    log.info(STARTED.format(seconds=process_seconds()))
    if CLAIMED:
        log.info("GPU slot: CUDA_VISIBLE_DEVICES=%s", ",".join(CLAIMED))
    if os.environ.get("SLURM_JOB_ID"):
        log.info(
            "SLURM job %s on %s, CUDA_VISIBLE_DEVICES=%s",
            os.environ["SLURM_JOB_ID"],
            os.environ.get("SLURMD_NODENAME", "?"),
            os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        )
    try:
        result = func(**kwargs)
    except KdsegError as err:
        for line in str(err).splitlines():
            log.error(line)
        sys.exit(1)
    except Exception:
        log.error("unexpected failure in %s:\n%s", func.__name__, traceback.format_exc())
        sys.exit(1)
    log.info(FINISHED.format(seconds=process_seconds()))
    return result
