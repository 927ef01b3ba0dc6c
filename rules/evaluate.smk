"""Predict the test cases with a trained model, evaluate them, summarise models per dataset."""


rule predict:
    """Apply one model to the test cases (NIfTI labels, probabilities, timing)."""
    input:
        model=LAYOUT.model_file("{model}"),
        preprocessed=LAYOUT.preprocessed(),
        fingerprint=fingerprint_file,
    output:
        directory(LAYOUT.predictions("{model}")),
    log:
        job_log("predict", "{model}"),
    benchmark:
        job_benchmark("predict", "{model}")
    conda:
        ENV
    threads: config["resources"]["predict"]["threads"]
    resources:
        **job_resources("predict"),
    params:
        amp=lambda wc: kdcfg.training_settings(config, wc.dataset)["amp"],
        inference=model_inference,
    script:
        "../workflow/scripts/predict.py"


rule evaluate:
    """Metrics of one model's test predictions against the reference."""
    input:
        predictions=LAYOUT.predictions("{model}"),
        raw=raw_inputs,
    output:
        LAYOUT.metrics("{model}"),
    log:
        job_log("evaluate", "{model}"),
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
        metrics=lambda wc: teacher_files(wc, LAYOUT.metrics),
        predictions=lambda wc: teacher_files(wc, LAYOUT.predictions),
    output:
        csv=LAYOUT.table("teachers", "csv"),
        md=LAYOUT.table("teachers", "md"),
        html=report(
            LAYOUT.table("teachers", "html"),
            category="Tables",
            subcategory="{dataset}",
            labels={"table": "teachers"},
            caption="../report/teacher_table.rst",
        ),
    log:
        LAYOUT.log("teacher_table", "{dataset}"),
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
        csv=LAYOUT.table("training", "csv"),
        md=LAYOUT.table("training", "md"),
        html=report(
            LAYOUT.table("training", "html"),
            category="Tables",
            subcategory="{dataset}",
            labels={"table": "training curves"},
            caption="../report/training_table.rst",
        ),
    log:
        LAYOUT.log("training_table", "{dataset}"),
    conda:
        ENV
    params:
        models=lambda wc: list(trained_histories(wc.dataset)),
        doubled=lambda wc: list(doubled_histories(wc.dataset)),
    script:
        "../workflow/scripts/training_table.py"


# a cross-validated dataset's predictions are its folds' (its own networks are never trained)
ruleorder: pool_predictions > predict_ensemble > predict


rule pool_predictions:
    """A cross-validated dataset's test predictions of one model: every case from the fold
    that held it out (kdseg.evaluation.pooling)."""
    input:
        lambda wc: [LAYOUT.predictions(wc.model, fold) for fold in FOLDS[wc.dataset]],
    output:
        directory(LAYOUT.predictions("{model}")),
    log:
        job_log("pool_predictions", "{model}"),
    wildcard_constraints:
        dataset=only([ds for ds in DATASETS if FOLDS[ds]]),
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow/scripts/pool_predictions.py"
