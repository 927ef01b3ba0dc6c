"""Teachers: train one network per (dataset, architecture, loss, seed) on reference labels."""


rule train_teacher:
    """Train one teacher (architecture, loss, seed) on the reference labels."""
    input:
        preprocessed=f"{STUDY}/{{dataset}}/preprocessed",
        fingerprint=fingerprint_file,
    output:
        model=f"{STUDY}/{{dataset}}/teachers/{{arch}}-{{loss}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/teachers/{{arch}}-{{loss}}/seed{{seed}}/training.csv",
        curves=report(
            f"{STUDY}/{{dataset}}/teachers/{{arch}}-{{loss}}/seed{{seed}}/training.png",
            category="Training curves",
            subcategory="{dataset}",
            labels={"model": "teachers/{arch}-{loss}/seed{seed}"},
            caption="../report/training_curves.rst",
        ),
    log:
        f"{STUDY}/logs/train/{{dataset}}/teachers/{{arch}}-{{loss}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/teachers/{{arch}}-{{loss}}/seed{{seed}}.tsv"
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


rule train_subset_teacher:
    """Train one limit-trained teacher on one of K disjoint subsets of the training cases."""
    input:
        preprocessed=f"{STUDY}/{{dataset}}/preprocessed",
        fingerprint=fingerprint_file,
    output:
        model=f"{STUDY}/{{dataset}}/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}/training.csv",
        curves=report(
            f"{STUDY}/{{dataset}}/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}/training.png",
            category="Training curves",
            subcategory="{dataset}",
            labels={"model": "teachers/{arch}-{loss}/{subset}/seed{seed}"},
            caption="../report/training_curves.rst",
        ),
    log:
        f"{STUDY}/logs/train/{{dataset}}/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/teachers/{{arch}}-{{loss}}/{{subset}}/seed{{seed}}.tsv"
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
        splits=lambda wc: config["datasets"][wc.dataset]["splits"],
        checkpoint=checkpoint_beside("model"),
    script:
        "../workflow/scripts/train_teacher.py"
