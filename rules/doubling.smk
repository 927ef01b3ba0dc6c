"""The budget-doubling check (doubling_check.networks): the named networks trained again with
twice their iterations, beside the study's own (kdseg.config.doubling). The table of training
curves shows what doubling gained. Each rule is the study's own training rule with other paths
and, where the iterations are not already in a wildcard, twice the training budget (Snakemake
keeps the other named params of the rule it uses)."""


# teachers/<arch>-<loss>/seed<k> -> doubled/teachers/<arch>-<loss>/seed<k>
use rule train_teacher as train_doubled_teacher with:
    output:
        model=f"{STUDY}/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/seed{{seed}}/training.csv",
        curves=f"{STUDY}/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/seed{{seed}}/training.png",
    log:
        f"{STUDY}/logs/train/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/seed{{seed}}.tsv"
    params:
        training=lambda wc: doubled_training(wc, wc.arch),


# teachers/<arch>-<loss>/subset<k>of<K>/seed<s> (limit-trained teachers), doubled
use rule train_subset_teacher as train_doubled_subset_teacher with:
    output:
        model=f"{STUDY}/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}/training.csv",
        curves=f"{STUDY}/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}/training.png",
    log:
        f"{STUDY}/logs/train/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/doubled/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}.tsv"
    params:
        training=lambda wc: doubled_training(wc, wc.arch),


# students/<entry>/<teacher>/<arch>/seed<k>: the same teachers, twice the iterations
use rule train_student as train_doubled_student with:
    output:
        model=f"{STUDY}/{{dataset}}/doubled/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/doubled/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/training.csv",
        curves=f"{STUDY}/{{dataset}}/doubled/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}/training.png",
    log:
        f"{STUDY}/logs/train/{{dataset}}/doubled/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/doubled/students/{{student}}/{{teacher}}/{{arch}}/seed{{seed}}.tsv"
    priority: 0
    params:
        training=lambda wc: doubled_training(wc, wc.arch),


# a baseline of twice the budget that the study does not train itself (x<budget> = 2 b)
use rule train_budget_baseline as train_doubled_baseline with:
    output:
        model=f"{STUDY}/{{dataset}}/doubled/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/doubled/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}/training.csv",
        curves=f"{STUDY}/{{dataset}}/doubled/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}/training.png",
    log:
        f"{STUDY}/logs/train/{{dataset}}/doubled/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/doubled/baselines/{{arch}}-{{loss}}/x{{budget}}/seed{{seed}}.tsv"
