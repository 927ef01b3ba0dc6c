"""Snakemake entry point: train one teacher (dataset, architecture, loss, seed; optionally on
one of K disjoint subsets of the training cases) or baseline."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.data.preprocess import load_manifest
from kdseg.data.splits import training_subset
from kdseg.steps import run_step
from kdseg.train.segmentation import cases_of_split, train_segmentation_model

w = snakemake.wildcards
subset = w.get("subset")
cases = None
if subset:
    splits = snakemake.params.splits
    train_cases = cases_of_split(load_manifest(snakemake.input[0]), "train")
    cases = training_subset(train_cases, subset, splits["seed"], splits["group_pattern"])
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
    training_cases=cases,
)
