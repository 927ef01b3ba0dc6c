"""Students of every method (kdseg.config.methods; trained by kdseg.distill.trainers), online KD's joint first phase, and
baselines trained on the labels alone."""


rule train_student:
    """Train one student with its entry's distillation method."""
    input:
        unpack(student_teacher_files),
        preprocessed=f"{STUDY}/{{dataset}}/preprocessed",
        fingerprint=fingerprint_file,
    output:
        model=f"{STUDY}/{{dataset}}/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/training.csv",
        curves=report(
            f"{STUDY}/{{dataset}}/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/training.png",
            category="Training curves",
            subcategory="{dataset}",
            labels={"model": "students/{student}/{teacher}/{arch}/seed{seed}"},
            caption="../report/training_curves.rst",
        ),
    log:
        f"{STUDY}/logs/train/{{dataset}}/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}.tsv"
    # the chain teachers -> soft labels -> students -> tables is the study's critical path
    priority: 1
    conda:
        ENV
    threads: config["resources"]["train"]["threads"]
    resources:
        **job_resources("train"),
    params:
        architecture=lambda wc: kdcfg.trained_architecture(
            planned(wc), wc.dataset, wc.arch
        ),
        kd=lambda wc: kdcfg.student_settings(config, wc.student),
        training=lambda wc: kdcfg.training_settings(planned(wc), wc.dataset, wc.arch),
        checkpoint=checkpoint_beside("model"),
    script:
        "../workflow/scripts/train_student.py"


rule train_online:
    """Online KD phase 1: teacher and student trained together."""
    input:
        f"{STUDY}/{{dataset}}/preprocessed",
        fingerprint=fingerprint_file,
    output:
        teacher=f"{STUDY}/{{dataset}}/online/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/teacher/model.pt",
        student=f"{STUDY}/{{dataset}}/online/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/student/model.pt",
        history=f"{STUDY}/{{dataset}}/online/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/training.csv",
        curves=report(
            f"{STUDY}/{{dataset}}/online/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/training.png",
            category="Training curves",
            subcategory="{dataset}",
            labels={"model": "online/{student}/{teacher}/{arch}/seed{seed}"},
            caption="../report/training_curves.rst",
        ),
    log:
        f"{STUDY}/logs/train/{{dataset}}/online/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/online/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["train"]["threads"]
    resources:
        **job_resources("train"),
    params:
        teacher_architecture=lambda wc: kdcfg.trained_architecture(
            planned(wc),
            wc.dataset,
            config["students"][wc.student]["teacher"]["architecture"],
        ),
        teacher_loss=lambda wc: config["losses"][
            config["students"][wc.student]["teacher"]["loss"]
        ],
        architecture=lambda wc: kdcfg.trained_architecture(
            planned(wc), wc.dataset, wc.arch
        ),
        kd=online_settings,
        training=lambda wc: kdcfg.training_settings(planned(wc), wc.dataset, wc.arch),
        checkpoint=checkpoint_beside("history"),
    script:
        "../workflow/scripts/train_online.py"


# a baseline that equals a teacher (same architecture, loss, seed) reuses its model file
rule train_baseline:
    """Train a label-trained baseline of a student's architecture and seed."""
    input:
        unpack(baseline_inputs),
    output:
        model=f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}/training.csv",
        curves=report(
            f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}/training.png",
            category="Training curves",
            subcategory="{dataset}",
            labels={"model": "baselines/{arch}-{loss}/seed{seed}"},
            caption="../report/training_curves.rst",
        ),
    log:
        f"{STUDY}/logs/train/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["train"]["threads"]
    resources:
        **job_resources("train"),
    params:
        architecture=lambda wc: kdcfg.trained_architecture(
            planned(wc), wc.dataset, wc.arch
        ),
        loss=lambda wc: config["losses"][wc.loss],
        training=lambda wc: kdcfg.training_settings(planned(wc), wc.dataset, wc.arch),
        checkpoint=checkpoint_beside("model"),
    script:
        "../workflow/scripts/train_teacher.py"


# a baseline trained for a multiple of the iterations (baselines.budgets; online KD's budget)
use rule train_baseline as train_budget_baseline with:
    input:
        preprocessed=f"{STUDY}/{{dataset}}/preprocessed",
        fingerprint=fingerprint_file,
    output:
        model=f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}/training.csv",
        curves=report(
            f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}/training.png",
            category="Training curves",
            subcategory="{dataset}",
            labels={"model": "baselines/{arch}-{loss}/x{budget}/seed{seed}"},
            caption="../report/training_curves.rst",
        ),
    log:
        f"{STUDY}/logs/train/{{dataset}}/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}.tsv"
    params:
        training=lambda wc: kdcfg.scaled_training(
            kdcfg.training_settings(planned(wc), wc.dataset, wc.arch), int(wc.budget)
        ),
