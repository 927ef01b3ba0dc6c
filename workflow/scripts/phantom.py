"""Snakemake entry point: generate a phantom dataset."""

from kdseg.data.phantoms import write_phantom_dataset
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_phantom_dataset,
    out_dir=snakemake.output[0],
    name=snakemake.wildcards.dataset,
    **snakemake.params.phantom,
)
