"""Predict the test cases with a trained model, evaluate them, summarise models per dataset."""


rule predict:
    """Apply one model to the test cases (NIfTI labels, probabilities, timing)."""
    input:
        model=f"{STUDY}/{{dataset}}/{{model}}/model.pt",
        preprocessed=f"{STUDY}/{{dataset}}/preprocessed",
        fingerprint=fingerprint_file,
    output:
        directory(f"{STUDY}/{{dataset}}/predictions/{{model}}"),
    log:
        f"{STUDY}/logs/predict/{{dataset}}/{{model}}.log",
    benchmark:
        f"{STUDY}/benchmarks/predict/{{dataset}}/{{model}}.tsv"
    conda:
        ENV
    threads: config["resources"]["predict"]["threads"]
    resources:
        **job_resources("predict"),
    params:
        device=lambda wc: kdcfg.training_settings(config, wc.dataset)["device"],
        amp=lambda wc: kdcfg.training_settings(config, wc.dataset)["amp"],
        inference=model_inference,
    script:
        "../workflow/scripts/predict.py"


rule evaluate:
    """Metrics of one model's test predictions against the reference."""
    input:
        predictions=f"{STUDY}/{{dataset}}/predictions/{{model}}",
        raw=raw_inputs,
    output:
        f"{STUDY}/{{dataset}}/metrics/{{model}}.csv",
    log:
        f"{STUDY}/logs/evaluate/{{dataset}}/{{model}}.log",
    conda:
        ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        root=raw_root,
    script:
        "../workflow/scripts/evaluate.py"


rule teacher_table:
    """Table of a dataset's teachers: test metrics, parameters, seconds per case."""
    input:
        metrics=lambda wc: teacher_files(wc, "metrics/{model}.csv"),
        predictions=lambda wc: teacher_files(wc, "predictions/{model}"),
    output:
        csv=f"{STUDY}/tables/teachers_{{dataset}}.csv",
        md=f"{STUDY}/tables/teachers_{{dataset}}.md",
        html=report(
            f"{STUDY}/tables/teachers_{{dataset}}.html",
            category="Tables",
            subcategory="{dataset}",
            labels={"table": "teachers"},
            caption="../report/teacher_table.rst",
        ),
    log:
        f"{STUDY}/logs/teacher_table/{{dataset}}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/teacher_table.py"


rule training_table:
    """Table of a dataset's training curves: final validation Dice, settled or not, and what
    doubling the budget gained (the doubling check)."""
    input:
        histories=lambda wc: list(trained_histories(wc.dataset).values()),
        doubled=lambda wc: list(doubled_histories(wc.dataset).values()),
    output:
        csv=f"{STUDY}/tables/training_{{dataset}}.csv",
        md=f"{STUDY}/tables/training_{{dataset}}.md",
        html=report(
            f"{STUDY}/tables/training_{{dataset}}.html",
            category="Tables",
            subcategory="{dataset}",
            labels={"table": "training curves"},
            caption="../report/training_table.rst",
        ),
    log:
        f"{STUDY}/logs/training_table/{{dataset}}.log",
    conda:
        ENV
    params:
        models=lambda wc: list(trained_histories(wc.dataset)),
        doubled=lambda wc: list(doubled_histories(wc.dataset)),
    script:
        "../workflow/scripts/training_table.py"
