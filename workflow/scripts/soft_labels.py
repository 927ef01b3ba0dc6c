"""Snakemake entry point: an ensemble's soft labels for the training/validation cases (8-bit
or float16 log-probabilities: the rule's ``storage`` param)."""

from kdseg.config import runtime_settings
from kdseg.distill.soft_labels import write_soft_labels
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    write_soft_labels,
    model_files=list(snakemake.input.models),
    preprocessed=snakemake.input.preprocessed,
    out_dir=snakemake.output[0],
    device=runtime_settings(snakemake.config, snakemake.wildcards.dataset)["device"],
    amp=snakemake.params.amp,
    inference=snakemake.params.inference,
    storage=snakemake.params.storage,
    threads=snakemake.threads,
)
