"""The budget-doubling check (doubling_check.networks): the named networks trained again with
twice their iterations, beside the study's own (kdseg.config.doubling), under
``doubled/<model id>``. The table of training curves shows what doubling gained. Each rule is
the study's own training rule with other paths and, where the iterations are not already in a
wildcard, twice the training budget (Snakemake keeps the other named params of the rule it
uses)."""


use rule train_teacher as train_doubled_teacher with:
    output:
        **trained(ids.doubled(ids.TEACHER), in_report=False),
    log:
        job_log("train", ids.doubled(ids.TEACHER)),
    benchmark:
        job_benchmark("train", ids.doubled(ids.TEACHER))
    params:
        training=doubled_training,


use rule train_subset_teacher as train_doubled_subset_teacher with:
    output:
        **trained(ids.doubled(ids.SUBSET_TEACHER), in_report=False),
    log:
        job_log("train", ids.doubled(ids.SUBSET_TEACHER)),
    benchmark:
        job_benchmark("train", ids.doubled(ids.SUBSET_TEACHER))
    params:
        training=doubled_training,


use rule train_student as train_doubled_student with:
    output:
        **trained(ids.doubled(ids.STUDENT), in_report=False),
    log:
        job_log("train", ids.doubled(ids.STUDENT)),
    benchmark:
        job_benchmark("train", ids.doubled(ids.STUDENT))
    priority: 0
    params:
        training=doubled_training,


# a baseline of twice the budget that the study does not train itself (x<budget> = 2 b)
use rule train_budget_baseline as train_doubled_baseline with:
    output:
        **trained(ids.doubled(ids.BUDGET_BASELINE), in_report=False),
    log:
        job_log("train", ids.doubled(ids.BUDGET_BASELINE)),
    benchmark:
        job_benchmark("train", ids.doubled(ids.BUDGET_BASELINE))
