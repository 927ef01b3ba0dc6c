"""Snakemake entry point: predict the test cases with one model file."""

from kdseg.predict import predict_with_model
from kdseg.steps import run_job

run_job(
    snakemake,
    predict_with_model,
    model_file=snakemake.input.model,
    preprocessed=snakemake.input.preprocessed,
    out_dir=snakemake.output[0],
    device=snakemake.params.device,
    amp=snakemake.params.amp,
    inference=snakemake.params.inference,
    threads=snakemake.threads,
)
