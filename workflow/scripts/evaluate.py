"""Snakemake entry point: metrics of one model's test predictions."""

from kdseg.evaluation.evaluate import evaluate_predictions
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    evaluate_predictions,
    predictions=snakemake.input.predictions,
    raw_root=snakemake.params.root,
    out_csv=snakemake.output[0],
    model=snakemake.wildcards.model,
)
