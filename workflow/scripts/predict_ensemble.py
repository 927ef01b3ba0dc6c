"""Snakemake entry point: an ensemble's test predictions, the mean of its members' stored
probabilities (no network runs again; torch is not imported)."""

from kdseg.ensemble.stored import combine_member_predictions
from kdseg.runtime.steps import run_job

run_job(
    snakemake,
    combine_member_predictions,
    member_dirs=list(snakemake.input.members),
    preprocessed=snakemake.input.preprocessed,
    out_dir=snakemake.output[0],
    name=f"ensembles/{snakemake.wildcards.ensemble}",
)
