"""Ensembles: predictions of the members combined; soft labels (of an ensemble or of one
model) for distillation."""

from kdseg.config.students import soft_label_storage


rule predict_ensemble:
    """An ensemble's test predictions: the mean of its members' stored probabilities (the
    members' own predict jobs ran the networks; its time per case is the sum of theirs).
    """
    input:
        members=ensemble_member_predictions,
        preprocessed=LAYOUT.preprocessed(),
    output:
        directory(LAYOUT.predictions(ids.ENSEMBLE)),
    log:
        job_log("predict", ids.ENSEMBLE),
    benchmark:
        job_benchmark("predict", ids.ENSEMBLE)
    conda:
        ENV
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow/scripts/predict_ensemble.py"


rule soft_labels:
    """Soft labels of an ensemble or one model for the training and validation cases."""
    input:
        models=soft_label_model_files,
        preprocessed=LAYOUT.preprocessed(),
        fingerprint=fingerprint_file,
    output:
        directory(LAYOUT.soft_labels("{model}")),
    log:
        job_log("soft_labels", "{model}"),
    benchmark:
        job_benchmark("soft_labels", "{model}")
    # the chain teachers -> soft labels -> students -> tables is the study's critical path
    priority: 1
    conda:
        ENV
    threads: config["resources"]["predict"]["threads"]
    resources:
        **job_resources("predict"),
    params:
        amp=lambda wc: kdcfg.training_settings(config, wc.dataset)["amp"],
        inference=soft_label_inference,
        # what the students reading them need: 8-bit at T = 1, float16 log-probabilities
        # otherwise (a changed temperature re-makes them only if this changes)
        storage=lambda wc: soft_label_storage(VIEWS[wc.dataset], wc.model),
    script:
        "../workflow/scripts/soft_labels.py"
