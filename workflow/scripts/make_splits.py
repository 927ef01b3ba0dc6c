"""Snakemake entry point: patient-level splits of a validated dataset."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.splits import write_splits
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    write_splits,
    report=snakemake.input[0],
    out_json=snakemake.output[0],
    **snakemake.params.splits,
)
