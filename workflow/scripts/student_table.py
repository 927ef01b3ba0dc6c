"""Snakemake entry point: all students of a dataset against the baseline and each other."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.steps import run_step
from kdseg.student_table import write_student_table

run_step(
    snakemake.log[0],
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
)
