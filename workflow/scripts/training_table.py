"""Snakemake entry point: the per-dataset table of training curves (the curve rule, and the
doubling check where the study asks for it)."""

from kdseg.report.training_table import write_training_table
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_training_table,
    models=list(snakemake.params.models),
    histories=list(snakemake.input.histories),
    dataset=snakemake.wildcards.dataset,
    out_csv=snakemake.output.csv,
    out_md=snakemake.output.md,
    out_html=snakemake.output.html,
    doubled=dict(zip(snakemake.params.doubled, snakemake.input.doubled, strict=True)),
)
