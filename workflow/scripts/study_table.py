"""Snakemake entry point: the per-dataset results table (CSV, Markdown, LaTeX)."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.steps import run_step
from kdseg.study_table import write_study_table

run_step(
    snakemake.log[0],
    write_study_table,
    models=snakemake.params.models,
    metrics=list(snakemake.input.metrics),
    predictions=list(snakemake.input.predictions),
    statistics_csv=snakemake.input.statistics,
    dataset=snakemake.wildcards.dataset,
    out_csv=snakemake.output.csv,
    out_md=snakemake.output.md,
    out_tex=snakemake.output.tex,
)
