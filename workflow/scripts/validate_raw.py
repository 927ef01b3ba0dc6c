"""Snakemake entry point: validate a raw dataset before preprocessing."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.validate import validate_raw_dataset
from kdseg.locks import reading
from kdseg.steps import run_step


def validate_while_reading(root: str, **kwargs):
    """Validate under the raw dataset's shared lock (it may be shared through data_dir)."""
    with reading(root):
        return validate_raw_dataset(root=root, **kwargs)


run_step(
    snakemake.log[0],
    validate_while_reading,
    root=snakemake.params.root,
    report=snakemake.output[0],
    name=snakemake.wildcards.dataset,
)
