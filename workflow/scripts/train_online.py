"""Snakemake entry point: online KD's first phase (teacher and student trained together)."""

from kdseg.config import runtime_settings
from kdseg.distill.trainers.online import train_online_pair
from kdseg.runtime.steps import run_job
from kdseg.train.loop import exit_on_sigterm

exit_on_sigterm()  # temporaries are removed; the loop writes a last checkpoint
w = snakemake.wildcards
run_job(
    snakemake,
    train_online_pair,
    preprocessed=snakemake.input[0],
    teacher_out=snakemake.output.teacher,
    student_out=snakemake.output.student,
    history_out=snakemake.output.history,
    curves_out=snakemake.output.curves,
    checkpoint=snakemake.params.checkpoint,
    teacher_architecture=snakemake.params.teacher_architecture,
    teacher_loss=snakemake.params.teacher_loss,
    architecture=snakemake.params.architecture,
    settings=snakemake.params.kd,
    # params leave out where it runs and how it reports: config.settings.RUNTIME_TRAINING
    training={**snakemake.params.training, **runtime_settings(snakemake.config, w.dataset, w.arch)},
    seed=int(w.seed),
    name=f"{w.dataset}/online/{w.student}/{w.teacher}/{w.arch}/seed{w.seed}",
    threads=snakemake.threads,
)
