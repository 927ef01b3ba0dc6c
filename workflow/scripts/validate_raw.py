"""Snakemake entry point: validate a raw dataset before preprocessing."""

from kdseg.data.validate import validate_raw_dataset
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    validate_raw_dataset,
    root=snakemake.params.root,
    report=snakemake.output[0],
    name=snakemake.wildcards.dataset,
    allow_absent_labels=snakemake.params.allow_absent_labels,
)
