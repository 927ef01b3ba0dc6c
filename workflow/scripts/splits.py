"""Snakemake entry point: patient-level splits of a validated dataset."""

from kdseg.data.splits import write_splits
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_splits,
    report=snakemake.input[0],
    out_json=snakemake.output[0],
    **snakemake.params.splits,
)
