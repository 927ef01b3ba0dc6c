"""Snakemake entry point: convert an obtained data source into an nnU-Net v2 raw dataset."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.sources.obtain import convert_source
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    convert_source,
    source=snakemake.params.source,
    source_dir=snakemake.params.source_dir,
    out_dir=snakemake.params.folder,
    options=snakemake.params.options,
    marker=snakemake.output[0],
)
