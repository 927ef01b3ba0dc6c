"""Snakemake entry point: convert an obtained data source into an nnU-Net v2 raw dataset."""

from kdseg.data.sources.obtain import convert_source
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    convert_source,
    source=snakemake.params.source,
    source_dir=snakemake.params.source_dir,
    out_dir=snakemake.params.folder,
    options=snakemake.params.options,
    marker=snakemake.output[0],
)
