"""Snakemake entry point: train one teacher (dataset, architecture, loss, seed; optionally on
one of K disjoint subsets of the training cases) or baseline (a baseline that is the same
network as a teacher reuses the teacher's model file)."""

from kdseg.config import runtime_settings
from kdseg.runtime.steps import run_job
from kdseg.train.loop import exit_on_sigterm
from kdseg.train.reuse import reuse_trained_model
from kdseg.train.segmentation import subset_training_cases, train_segmentation_model

exit_on_sigterm()  # temporaries are removed; the loop writes a last checkpoint
w = snakemake.wildcards
subset = w.get("subset")
outputs = {
    "model_out": snakemake.output.model,
    "history_out": snakemake.output.history,
    "curves_out": snakemake.output.curves,
}
if snakemake.input.get("teacher"):
    run_job(snakemake, reuse_trained_model, model=snakemake.input.teacher, **outputs)
else:
    preprocessed = snakemake.input.preprocessed
    run_job(
        snakemake,
        train_segmentation_model,
        preprocessed=preprocessed,
        **outputs,
        checkpoint=snakemake.params.checkpoint,
        architecture=snakemake.params.architecture,
        loss=snakemake.params.loss,
        # params leave out where it runs and how it reports: config.settings.RUNTIME_TRAINING
        training={
            **snakemake.params.training,
            **runtime_settings(snakemake.config, w.dataset, w.arch),
        },
        seed=int(w.seed),
        name=f"{w.dataset}/{w.arch}-{w.loss}/{subset + '/' if subset else ''}seed{w.seed}",
        threads=snakemake.threads,
        training_cases=(
            subset_training_cases(preprocessed, subset, snakemake.params.splits) if subset else None
        ),
    )
