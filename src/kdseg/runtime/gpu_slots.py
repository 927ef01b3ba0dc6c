"""One GPU per concurrently running job on a multi-GPU workstation.

Snakemake caps concurrent GPU jobs with ``--resources gpu=N`` but does not say which GPU a job
should use (snakemake issue 281). A job that asks for ``gpu`` resources claims that many GPUs by
taking an exclusive ``flock`` on one lock file per GPU under the workflow's ``.snakemake/``
folder, and sets ``CUDA_VISIBLE_DEVICES`` to them before CUDA starts. The locks belong to the
job's process, so a killed job frees its GPUs at once. Under SLURM (``SLURM_JOB_ID`` set) the
scheduler assigns GPUs and nothing is claimed.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path
from typing import IO

from kdseg.errors import KdsegError

LOCK_DIR = Path(".snakemake") / "kdseg-gpu-slots"
_held: list[IO] = []  # open lock files: held for the life of the process
CLAIMED: list[str] = []  # the GPU ids this process claimed (logged by run_step)


def candidate_gpus() -> list[str]:
    """The GPUs jobs may use: ``KDSEG_GPUS`` (e.g. ``0,1,3``), else ``CUDA_VISIBLE_DEVICES``,
    else every GPU ``nvidia-smi`` lists (none on a machine without NVIDIA GPUs)."""
    for var in ("KDSEG_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = os.environ.get(var, "").strip()
        if value:
            return [g.strip() for g in value.split(",") if g.strip()]
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.stdout.split() if out.returncode == 0 else []


def claim_gpus(
    count: int,
    candidates: list[str] | None = None,
    lock_dir: str | Path = LOCK_DIR,
    timeout_s: float = 3600.0,
    poll_s: float = 1.0,
) -> list[str]:
    """Claim ``count`` of the candidate GPUs (waiting while all are taken); set
    ``CUDA_VISIBLE_DEVICES`` to them and return their ids. No candidates: nothing to do."""
    candidates = candidate_gpus() if candidates is None else candidates
    if count <= 0 or not candidates:
        return []
    if count > len(candidates):
        raise KdsegError(f"a job asks for {count} GPUs but only {candidates} can be used")
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    while True:
        taken: list[tuple[str, IO]] = []
        for gpu in candidates:
            handle = open(lock_dir / f"gpu{gpu}.lock", "w")  # noqa: SIM115 (held open)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            taken.append((gpu, handle))
            if len(taken) == count:
                break
        if len(taken) == count:
            _held.extend(h for _, h in taken)
            ids = [g for g, _ in taken]
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
            CLAIMED[:] = ids
            return ids
        for _, handle in taken:
            handle.close()
        if time.monotonic() > deadline:
            raise KdsegError(f"no free GPU among {candidates} after {timeout_s:.0f} s")
        time.sleep(poll_s)


def claim_for_job(gpus: int) -> list[str]:
    """What every job script does first: claim its GPUs unless a scheduler assigned them."""
    if gpus <= 0 or os.environ.get("SLURM_JOB_ID"):
        return []
    return claim_gpus(gpus)
