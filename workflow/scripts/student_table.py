"""Snakemake entry point: all students of a dataset against the baseline and each other."""

from kdseg.report.student_table import write_student_table
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_student_table,
    models=snakemake.params.models,
    methods=snakemake.params.methods,
    baselines=snakemake.params.baselines,
    metrics=list(snakemake.input.metrics),
    predictions=list(snakemake.input.predictions),
    statistics_csv=snakemake.input.statistics,
    dataset=snakemake.wildcards.dataset,
    out_csv=snakemake.output.csv,
    out_md=snakemake.output.md,
    out_html=snakemake.output.html,
)
