"""Imported first by every script: puts this checkout's ``src/`` first on ``sys.path`` and, for
a job that asks for GPUs outside SLURM, claims its own GPU(s) (``kdseg.gpu_slots``)."""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[2] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

import __main__  # noqa: E402  (the job script, which Snakemake gives a `snakemake` object)

_job = getattr(__main__, "snakemake", None)
if _job is not None:
    from kdseg.gpu_slots import claim_for_job

    claim_for_job(int(getattr(_job.resources, "gpu", 0) or 0))
