"""Training. Three rules train networks, one per job script: train_teacher (a network on the
labels: teachers, also on one of K disjoint subsets of the training cases, and baselines),
train_student (a student by its entry's method) and train_online (online KD's joint phase,
distill.smk). Every other training rule is one of them used with its own paths (``use rule``).
Paths come from LAYOUT and the model-id patterns of kdseg.config.model_ids."""


rule train_teacher:
    """Train one teacher (architecture, loss, seed) on the reference labels."""
    input:
        unpack(dataset_inputs),
    output:
        **trained(ids.TEACHER),
    log:
        job_log("train", ids.TEACHER),
    benchmark:
        job_benchmark("train", ids.TEACHER)
    conda:
        ENV
    threads: config["resources"]["train"]["threads"]
    resources:
        **job_resources("train"),
    params:
        architecture=architecture_of,
        loss=loss_of,
        training=training_of,
        checkpoint=checkpoint_beside("model"),
    script:
        "../workflow/scripts/train_teacher.py"


use rule train_teacher as train_subset_teacher with:
    output:
        **trained(ids.SUBSET_TEACHER),
    log:
        job_log("train", ids.SUBSET_TEACHER),
    benchmark:
        job_benchmark("train", ids.SUBSET_TEACHER)
    params:
        splits=lambda wc: config["datasets"][wc.dataset]["splits"],


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
