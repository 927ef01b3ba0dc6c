"""Snakemake entry point: predict the test cases with one model file."""

from kdseg.config import runtime_settings
from kdseg.inference.predict import predict_with_model
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    predict_with_model,
    model_file=snakemake.input.model,
    preprocessed=snakemake.input.preprocessed,
    out_dir=snakemake.output[0],
    device=runtime_settings(snakemake.config, snakemake.wildcards.dataset)["device"],
    amp=snakemake.params.amp,
    inference=snakemake.params.inference,
    threads=snakemake.threads,
)
