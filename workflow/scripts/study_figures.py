"""Snakemake entry point: the per-dataset figures of the study."""

from kdseg.report.figures.study import plot_study_figures
from kdseg.runtime.steps import run_job

out = snakemake.output
run_job(
    snakemake,
    plot_study_figures,
    models=snakemake.params.models,
    metrics=list(snakemake.input.metrics),
    predictions=list(snakemake.input.predictions),
    preprocessed=snakemake.input.preprocessed,
    dataset=snakemake.wildcards.dataset,
    boxplots=out.boxplots,
    footprint=out.footprint,
    qualitative=out.qualitative,
    calibration=out.calibration,
    calibration_json=out.calibration_json,
)
