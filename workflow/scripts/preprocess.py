"""Snakemake entry point: preprocess a validated dataset."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.preprocess import preprocess_dataset
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    preprocess_dataset,
    raw_root=snakemake.params.root,
    validation_report=snakemake.input.report,
    splits=snakemake.input.splits,
    out_dir=snakemake.output[0],
    settings=snakemake.params.preprocess,
    name=snakemake.wildcards.dataset,
    threads=snakemake.threads,
)
