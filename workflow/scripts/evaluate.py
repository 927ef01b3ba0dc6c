"""Snakemake entry point: metrics of one model's test predictions."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.evaluate import evaluate_predictions
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    evaluate_predictions,
    predictions=snakemake.input.predictions,
    raw_root=snakemake.params.root,
    out_csv=snakemake.output[0],
    model=snakemake.wildcards.model,
)
