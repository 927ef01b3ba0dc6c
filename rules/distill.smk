"""Students of every method (kdseg.config.methods; trained by kdseg.distill.trainers) and
online KD's joint first phase. Their job scripts differ from the teachers', so each is a rule
of its own; paths, inputs and params come from the helpers of common.smk."""


rule train_student:
    """Train one student with its entry's distillation method."""
    input:
        unpack(student_teacher_files),
        unpack(dataset_inputs),
    output:
        **trained(ids.STUDENT),
    log:
        job_log("train", ids.STUDENT),
    benchmark:
        job_benchmark("train", ids.STUDENT)
    # the chain teachers -> soft labels -> students -> tables is the study's critical path
    priority: 1
    conda:
        ENV
    threads: config["resources"]["train"]["threads"]
    resources:
        **job_resources("train"),
    params:
        architecture=architecture_of,
        kd=lambda wc: kdcfg.student_settings(config, wc.student),
        training=training_of,
        checkpoint=checkpoint_beside("model"),
    script:
        "../workflow/scripts/train_student.py"


rule train_online:
    """Online KD phase 1: teacher and student trained together."""
    input:
        unpack(dataset_inputs),
    output:
        teacher=LAYOUT.model_file(f"{ids.ONLINE_PAIR}/teacher"),
        student=LAYOUT.model_file(f"{ids.ONLINE_PAIR}/student"),
        history=trained(ids.ONLINE_PAIR)["history"],
        curves=trained(ids.ONLINE_PAIR)["curves"],
    log:
        job_log("train", ids.ONLINE_PAIR),
    benchmark:
        job_benchmark("train", ids.ONLINE_PAIR)
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
        architecture=architecture_of,
        kd=online_settings,
        training=training_of,
        checkpoint=checkpoint_beside("history"),
    script:
        "../workflow/scripts/train_online.py"
