"""Snakemake entry point: the per-dataset table of teachers."""

from kdseg.model_table import write_model_table
from kdseg.steps import run_job

run_job(
    snakemake,
    write_model_table,
    metrics=list(snakemake.input.metrics),
    inference=[f"{p}/inference.json" for p in snakemake.input.predictions],
    dataset=snakemake.wildcards.dataset,
    out_csv=snakemake.output.csv,
    out_md=snakemake.output.md,
    out_html=snakemake.output.html,
)
