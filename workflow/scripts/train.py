"""Snakemake entry point of every training rule: one network trained by its objective (a loss:
teachers, baselines; a distillation method: students), or online KD's pair trained together.
A baseline that is the same network as a teacher reuses the teacher's model file."""

from kdseg.config import study_dir
from kdseg.config.layout import Layout
from kdseg.steps import run_job
from kdseg.train.loop import exit_on_sigterm

exit_on_sigterm()  # temporaries are removed; the loop writes a last checkpoint
job, inputs, output, params, w = (
    snakemake,
    snakemake.input,
    snakemake.output,
    snakemake.params,
    snakemake.wildcards,
)
common = {
    "preprocessed": inputs.preprocessed,
    "history_out": output.history,
    "curves_out": output.curves,
    "checkpoint": params.checkpoint,
    "architecture": params.architecture,
    "training": params.training,
    "seed": int(w.seed),
    "name": f"{w.dataset}/{Layout(study_dir(job.config)).model_of(output.history, w.dataset)}",
    "threads": job.threads,
}
method = params.objective.get("method")
if inputs.get("teacher"):
    from kdseg.train.reuse import reuse_trained_model

    outputs = {k: common[k] for k in ("history_out", "curves_out")}
    run_job(job, reuse_trained_model, model=inputs.teacher, model_out=output.model, **outputs)
elif method == "online":
    from kdseg.distill.trainers.online import train_online_pair

    run_job(job, train_online_pair, teacher_out=output.teacher, student_out=output.student,
            teacher_architecture=params.teacher_architecture, teacher_loss=params.teacher_loss,
            settings=params.objective, **common)  # fmt: skip
elif method is not None:
    from kdseg.distill.trainers import train_student

    teachers = {
        "soft_labels": list(inputs.get("soft_labels", [])),
        "models": list(inputs.get("models", [])),
        "init": inputs.get("init"),
    }
    run_job(job, train_student, method=method, settings=params.objective, teachers=teachers,
            model_out=output.model, **common)  # fmt: skip
else:
    from kdseg.train.segmentation import subset_training_cases, train_segmentation_model

    subset = w.get("subset")
    cases = subset_training_cases(inputs.preprocessed, subset, params.splits) if subset else None
    run_job(job, train_segmentation_model, model_out=output.model, loss=params.objective,
            training_cases=cases, **common)  # fmt: skip
