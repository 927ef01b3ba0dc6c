"""Snakemake entry point: predict the test cases with one model file."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.predict import predict_with_model
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    predict_with_model,
    model_file=snakemake.input.model,
    preprocessed=snakemake.input.preprocessed,
    out_dir=snakemake.output[0],
    device=snakemake.params.device,
    amp=snakemake.params.amp,
    inference=snakemake.params.inference,
    threads=snakemake.threads,
)
