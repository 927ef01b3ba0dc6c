"""Training. Three kinds of rule train networks, one per job script (training_rules() in
jobs.smk, written here once): train_teacher (a network on the labels), train_student (a
student by its entry's method) and one per method's own phase (train_online: online KD's
phase 1). Every other training rule is one of them used with its own paths (``use rule``):
subset teachers, baselines, budgets (here), the doubled runs (doubling.smk). Paths come from
LAYOUT and the model-id patterns of kdseg.config.model_ids."""

for training in training_rules():

    rule:
        """Train the network(s) of one model id with its job script (jobs.smk: training_rules)."""
        name:
            training.name
        input:
            unpack(training.inputs),
        output:
            **training.outputs,
        log:
            job_log("train", training.model),
        benchmark:
            job_benchmark("train", training.model)
        priority: training.priority
        conda:
            ENV
        threads: config["resources"]["train"]["threads"]
        resources:
            **job_resources("train"),
        params:
            **training.params,
        script:
            f"../workflow/scripts/{training.script}"

    workflow.get_rule(training.name).docstring = training.doc  # what --list-rules shows


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
