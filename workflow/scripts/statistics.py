"""Snakemake entry point: Wilcoxon/Holm statistics of the paper's comparisons."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.steps import run_step
from kdseg.study_table import write_statistics

run_step(
    snakemake.log[0],
    write_statistics,
    metrics=list(snakemake.input.metrics),
    comparisons=snakemake.params.comparisons,
    out_csv=snakemake.output[0],
    splits=snakemake.input.splits,
    unit=snakemake.params.unit,
)
