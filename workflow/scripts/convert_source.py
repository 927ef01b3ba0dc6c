"""Snakemake entry point: convert an obtained data source into an nnU-Net v2 raw dataset."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.sources.obtain import convert_source
from kdseg.locks import reading
from kdseg.steps import run_step


def convert_while_reading(source_dir: str, **kwargs):
    """Convert under the source folder's shared lock (a study sharing data_dir that obtains
    the source again waits until this read is over)."""
    with reading(source_dir):
        return convert_source(source_dir=source_dir, **kwargs)


run_step(
    snakemake.log[0],
    convert_while_reading,
    source=snakemake.params.source,
    source_dir=snakemake.input[0],
    out_dir=snakemake.output[0],
    options=snakemake.params.options,
)
