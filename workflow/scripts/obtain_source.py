"""Snakemake entry point: extract a data source's files (downloaded or put there by the user)."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.sources.obtain import obtain_source
from kdseg.steps import run_step

run_step(
    snakemake.log[0],
    obtain_source,
    source=snakemake.wildcards.source,
    out_dir=snakemake.params.folder,
    downloads=[f for f in snakemake.input if f != snakemake.params.manual_path],
    manual_path=snakemake.params.manual_path,
    extract=snakemake.config["extract"],  # limits, not inputs: changing them re-runs nothing
    marker=snakemake.output[0],
)
