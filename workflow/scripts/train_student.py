"""Snakemake entry point: distil one student from an ensemble's soft labels."""

import _kdseg_src  # noqa: F401  (first: makes src/ importable)

from kdseg.distill.students import train_student
from kdseg.steps import run_step

w = snakemake.wildcards
run_step(
    snakemake.log[0],
    train_student,
    preprocessed=snakemake.input.preprocessed,
    soft_labels=snakemake.input.soft_labels,
    model_out=snakemake.output.model,
    history_out=snakemake.output.history,
    curves_out=snakemake.output.curves,
    checkpoint=snakemake.params.checkpoint,
    architecture=snakemake.params.architecture,
    kd=snakemake.params.kd,
    training=snakemake.params.training,
    seed=int(w.seed),
    name=f"{w.dataset}/{w.student}/{w.ensemble}/{w.arch}/seed{w.seed}",
    threads=snakemake.threads,
)
