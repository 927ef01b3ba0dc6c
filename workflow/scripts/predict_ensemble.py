"""Snakemake entry point: predict the test cases with an ensemble."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.ensemble import predict_with_ensemble
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
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
