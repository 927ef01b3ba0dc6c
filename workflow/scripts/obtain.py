"""Snakemake entry point: extract a data source's files (downloaded or put there by the user)."""

from kdseg.data.sources.obtain import obtain_source
from kdseg.steps import run_job

run_job(
    snakemake,
    obtain_source,
    source=snakemake.wildcards.source,
    out_dir=snakemake.params.folder,
    downloads=[f for f in snakemake.input if f != snakemake.params.manual_path],
    manual_path=snakemake.params.manual_path,
    extract=snakemake.config["extract"],  # limits, not inputs: changing them re-runs nothing
    marker=snakemake.output[0],
)
