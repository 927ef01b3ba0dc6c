"""Snakemake entry point: a cross-validated dataset's pooled test predictions of one model."""

from kdseg.evaluation.pool_folds import pool_predictions
from kdseg.runtime.steps import run_job

run_job(snakemake, pool_predictions, fold_dirs=list(snakemake.input), out_dir=snakemake.output[0])
