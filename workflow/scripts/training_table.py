"""Snakemake entry point: the per-dataset table of training curves (the curve rule)."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.steps import run_step
from kdseg.training_table import write_training_table

run_step(
    snakemake.log[0],
    write_training_table,
    models=list(snakemake.params.models),
    histories=list(snakemake.input),
    dataset=snakemake.wildcards.dataset,
    out_csv=snakemake.output.csv,
    out_md=snakemake.output.md,
)
