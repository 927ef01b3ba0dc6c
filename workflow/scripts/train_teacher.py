"""Snakemake entry point: train one teacher (dataset, architecture, loss, seed)."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.steps import run_step
from kdseg.train.segmentation import train_segmentation_model

w = snakemake.wildcards
run_step(
    snakemake.log[0],
    train_segmentation_model,
    preprocessed=snakemake.input[0],
    model_out=snakemake.output.model,
    history_out=snakemake.output.history,
    curves_out=snakemake.output.curves,
    checkpoint=snakemake.params.checkpoint,
    architecture=snakemake.params.architecture,
    loss=snakemake.params.loss,
    training=snakemake.params.training,
    seed=int(w.seed),
    name=f"{w.dataset}/{w.arch}-{w.loss}/seed{w.seed}",
    threads=snakemake.threads,
)
