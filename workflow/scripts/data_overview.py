"""Snakemake entry point: the data overview figure of a dataset."""

from kdseg.report.figures.overview import plot_data_overview
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    plot_data_overview,
    preprocessed_dir=snakemake.input.preprocessed,
    plan=snakemake.input.plan,
    out_png=snakemake.output[0],
    max_cases=snakemake.params.max_cases,
)
