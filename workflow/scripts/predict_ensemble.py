"""Snakemake entry point: predict the test cases with an ensemble."""

from kdseg.ensemble import predict_with_ensemble
from kdseg.steps import run_job

run_job(
    snakemake,
    predict_with_ensemble,
    model_files=list(snakemake.input.models),
    preprocessed=snakemake.input.preprocessed,
    out_dir=snakemake.output[0],
    name=f"ensembles/{snakemake.wildcards.ensemble}",
    device=snakemake.params.device,
    amp=snakemake.params.amp,
    inference=snakemake.params.inference,
    threads=snakemake.threads,
)
