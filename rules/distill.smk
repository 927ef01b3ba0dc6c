"""Students of every method (kdseg.config.methods; trained by kdseg.distill.trainers), online
KD's joint first phase, and baselines trained on the labels alone: the training rule
(train.smk) with their own paths and objectives."""


use rule train_teacher as train_student with:
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
    params:
        objective=lambda wc: kdcfg.student_settings(config, wc.student),


# online KD phase 1: teacher and student trained together
use rule train_teacher as train_online with:
    output:
        teacher=LAYOUT.model_file(f"{ids.ONLINE_PAIR}/teacher"),
        student=LAYOUT.model_file(f"{ids.ONLINE_PAIR}/student"),
        history=trained(ids.ONLINE_PAIR)["history"],
        curves=trained(ids.ONLINE_PAIR)["curves"],
    log:
        job_log("train", ids.ONLINE_PAIR),
    benchmark:
        job_benchmark("train", ids.ONLINE_PAIR)
    params:
        teacher_architecture=lambda wc: kdcfg.trained_architecture(
            planned(wc),
            wc.dataset,
            config["students"][wc.student]["teacher"]["architecture"],
        ),
        teacher_loss=lambda wc: config["losses"][
            config["students"][wc.student]["teacher"]["loss"]
        ],
        objective=online_settings,
        checkpoint=checkpoint_beside("history"),


# a baseline that equals a teacher (same architecture, loss, seed) reuses its model file
use rule train_teacher as train_baseline with:
    input:
        unpack(baseline_inputs),
    output:
        **trained(ids.BASELINE),
    log:
        job_log("train", ids.BASELINE),
    benchmark:
        job_benchmark("train", ids.BASELINE)


# a baseline trained for a multiple of the iterations (baselines.budgets; online KD's budget)
use rule train_teacher as train_budget_baseline with:
    output:
        **trained(ids.BUDGET_BASELINE),
    log:
        job_log("train", ids.BUDGET_BASELINE),
    benchmark:
        job_benchmark("train", ids.BUDGET_BASELINE)
    params:
        training=budget_training,
