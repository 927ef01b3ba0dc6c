"""Snakemake entry point: the fingerprint of a validated raw dataset."""

from kdseg.data.fingerprint import write_fingerprint
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_fingerprint,
    raw_root=snakemake.params.root,
    validation_report=snakemake.input.report,
    out_path=snakemake.output[0],
    settings=snakemake.params.preprocess,
    name=snakemake.wildcards.dataset,
)
