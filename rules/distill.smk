"""Students distilled from ensembles, and baselines trained on the labels alone."""


rule train_student:
    input:
        preprocessed=f"{STUDY}/{{dataset}}/preprocessed",
        soft_labels=f"{STUDY}/{{dataset}}/ensembles/{{ensemble}}/soft_labels",
    output:
        model=f"{STUDY}/{{dataset}}/students/{{student}}/{{ensemble}}/{{arch}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/students/{{student}}/{{ensemble}}/{{arch}}/seed{{seed}}/training.csv",
        curves=f"{STUDY}/{{dataset}}/students/{{student}}/{{ensemble}}/{{arch}}/seed{{seed}}/training.png",
    log:
        f"{STUDY}/logs/train/{{dataset}}/students/{{student}}/{{ensemble}}/{{arch}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/students/{{student}}/{{ensemble}}/{{arch}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["train"]["threads"]
    resources:
        gpu=config["resources"]["train"]["gpu"],
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=config["resources"]["train"]["runtime"],
    params:
        architecture=lambda wc: kdcfg.trained_architecture(config, wc.dataset, wc.arch),
        kd=lambda wc: config["students"][wc.student],
        training=lambda wc: kdcfg.training_settings(config, wc.dataset),
        checkpoint=lambda wc, output: os.path.join(
            os.path.dirname(output.model), "checkpoint.pt"
        ),
    script:
        "../workflow/scripts/train_student.py"


rule train_baseline:
    input:
        f"{STUDY}/{{dataset}}/preprocessed",
    output:
        model=f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}/model.pt",
        history=f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}/training.csv",
        curves=f"{STUDY}/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}/training.png",
    log:
        f"{STUDY}/logs/train/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}.log",
    benchmark:
        f"{STUDY}/benchmarks/train/{{dataset}}/baselines/{{arch}}-{{loss}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["train"]["threads"]
    resources:
        gpu=config["resources"]["train"]["gpu"],
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=config["resources"]["train"]["runtime"],
    params:
        architecture=lambda wc: kdcfg.trained_architecture(config, wc.dataset, wc.arch),
        loss=lambda wc: config["losses"][wc.loss],
        training=lambda wc: kdcfg.training_settings(config, wc.dataset),
        checkpoint=lambda wc, output: os.path.join(
            os.path.dirname(output.model), "checkpoint.pt"
        ),
    script:
        "../workflow/scripts/train_teacher.py"
