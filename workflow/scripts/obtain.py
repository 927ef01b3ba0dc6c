"""Snakemake entry point: extract a data source's files (downloaded or put there by the user)."""

from pathlib import Path

from kdseg.data.sources.obtain import obtain_source
from kdseg.data.sources.study import download_spec
from kdseg.runtime.steps import run_job

downloads = [f for f in snakemake.input if f != snakemake.params.manual_path]
run_job(
    snakemake,
    obtain_source,
    source=snakemake.wildcards.source,
    out_dir=snakemake.params.folder,
    downloads=downloads,
    manual_path=snakemake.params.manual_path,
    extract=snakemake.config["extract"],  # limits, not inputs: changing them re-runs nothing
    marker=snakemake.output[0],
    # what each file is verified against before use (the config's overrides included)
    digests={
        Path(f).name: download_spec(snakemake.config, snakemake.wildcards.source, Path(f).name)
        for f in downloads
    },
)
