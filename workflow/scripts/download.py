"""Snakemake entry point: download one published file of an open data source."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.sources.download import download
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    download,
    dest=snakemake.output[0],
    **snakemake.params.spec,  # url and md5
    **snakemake.config["download"],  # how to fetch: changing it re-downloads nothing
)
