"""Snakemake entry point: validate a raw dataset before preprocessing."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.validate import validate_raw_dataset
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    validate_raw_dataset,
    root=snakemake.params.root,
    report=snakemake.output[0],
    name=snakemake.wildcards.dataset,
    allow_absent_labels=snakemake.params.allow_absent_labels,
)
