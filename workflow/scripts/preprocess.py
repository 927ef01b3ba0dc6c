"""Snakemake entry point: preprocess a validated dataset."""

from kdseg.data.preprocess import preprocess_dataset
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    preprocess_dataset,
    raw_root=snakemake.params.root,
    validation_report=snakemake.input.report,
    splits=snakemake.input.splits,
    out_dir=snakemake.output[0],
    settings=snakemake.params.preprocess,
    name=snakemake.wildcards.dataset,
    threads=snakemake.threads,
)
