"""Snakemake entry point: train one teacher (dataset, architecture, loss, seed; optionally on
one of K disjoint subsets of the training cases) or baseline."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.steps import run_step
from kdseg.train.loop import exit_on_sigterm
from kdseg.train.segmentation import subset_training_cases, train_segmentation_model

exit_on_sigterm()  # temporaries are removed; the loop writes a last checkpoint
w = snakemake.wildcards
subset = w.get("subset")
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
    name=f"{w.dataset}/{w.arch}-{w.loss}/{subset + '/' if subset else ''}seed{w.seed}",
    threads=snakemake.threads,
    training_cases=(
        subset_training_cases(snakemake.input[0], subset, snakemake.params.splits)
        if subset
        else None
    ),
)
