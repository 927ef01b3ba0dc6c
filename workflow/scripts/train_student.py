"""Snakemake entry point: train one student with its entry's method."""

from kdseg.config import runtime_settings
from kdseg.distill.trainers import train_student
from kdseg.runtime.steps import run_job
from kdseg.train.loop import exit_on_sigterm

exit_on_sigterm()  # temporaries are removed; the loop writes a last checkpoint
w = snakemake.wildcards
inputs = snakemake.input
run_job(
    snakemake,
    train_student,
    method=snakemake.params.kd["method"],
    settings=snakemake.params.kd,
    teachers={
        "soft_labels": list(inputs.get("soft_labels", [])),
        "models": list(inputs.get("models", [])),
        "init": inputs.get("init"),
    },
    preprocessed=inputs.preprocessed,
    model_out=snakemake.output.model,
    history_out=snakemake.output.history,
    curves_out=snakemake.output.curves,
    checkpoint=snakemake.params.checkpoint,
    architecture=snakemake.params.architecture,
    # params leave out where it runs and how it reports: config.settings.RUNTIME_TRAINING
    training={**snakemake.params.training, **runtime_settings(snakemake.config, w.dataset, w.arch)},
    seed=int(w.seed),
    name=f"{w.dataset}/{w.student}/{w.teacher}/{w.arch}/seed{w.seed}",
    threads=snakemake.threads,
)
