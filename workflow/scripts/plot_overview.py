"""Snakemake entry point: the data overview figure of a dataset."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.figures.overview import plot_data_overview
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    plot_data_overview,
    preprocessed_dir=snakemake.input[0],
    out_png=snakemake.output[0],
    max_cases=snakemake.params.max_cases,
)
