"""Snakemake entry point: the per-dataset results table (CSV, Markdown, LaTeX)."""

from kdseg.report.study_table import write_study_table
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_study_table,
    models=snakemake.params.models,
    metrics=list(snakemake.input.metrics),
    predictions=list(snakemake.input.predictions),
    statistics_csv=snakemake.input.statistics,
    dataset=snakemake.wildcards.dataset,
    out_csv=snakemake.output.csv,
    out_md=snakemake.output.md,
    out_tex=snakemake.output.tex,
    out_html=snakemake.output.html,
    training_table=snakemake.input.get("training") or None,
    members=dict(snakemake.params.members),
)
