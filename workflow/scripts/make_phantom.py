"""Snakemake entry point: generate a phantom dataset."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.phantoms import write_phantom_dataset
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    write_phantom_dataset,
    out_dir=snakemake.output[0],
    name=snakemake.wildcards.dataset,
    **snakemake.params.phantom,
)
