"""Snakemake entry point: download one published file of an open data source."""

from kdseg.data.sources.download import download
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    download,
    dest=snakemake.output[0],
    **snakemake.params.spec,  # url and md5
    **snakemake.config["download"],  # how to fetch: changing it re-downloads nothing
)
