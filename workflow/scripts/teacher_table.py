"""Snakemake entry point: the per-dataset table of teachers."""

from kdseg.report.teacher_table import write_teacher_table
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_teacher_table,
    metrics=list(snakemake.input.metrics),
    inference=[f"{p}/inference.json" for p in snakemake.input.predictions],
    dataset=snakemake.wildcards.dataset,
    out_csv=snakemake.output.csv,
    out_md=snakemake.output.md,
    out_html=snakemake.output.html,
)
