"""Training: every network of the study is trained by one rule, train_teacher, used with its
own paths (``use rule``): teachers (also on one of K disjoint subsets of the training cases),
students, online KD's joint phase and baselines (distill.smk), and the doubling check's runs
(doubling.smk). Paths come from LAYOUT and the model-id patterns of kdseg.config.model_ids.
"""


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
        # what the network learns from: a loss here, a distillation method for students
        objective=loss_of,
        training=training_of,
        checkpoint=checkpoint_beside("model"),
    script:
        "../workflow/scripts/train.py"


use rule train_teacher as train_subset_teacher with:
    output:
        **trained(ids.SUBSET_TEACHER),
    log:
        job_log("train", ids.SUBSET_TEACHER),
    benchmark:
        job_benchmark("train", ids.SUBSET_TEACHER)
    params:
        splits=lambda wc: config["datasets"][wc.dataset]["splits"],
