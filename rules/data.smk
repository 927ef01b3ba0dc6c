"""Data stages: generate phantoms, validate raw data, split, preprocess, overview figure."""


rule phantom:
    """Generate a synthetic dataset (phantom) in the nnU-Net v2 raw layout."""
    output:
        directory(LAYOUT.data("raw")),
    log:
        LAYOUT.log("phantom", "{dataset}"),
    benchmark:
        LAYOUT.benchmark("phantom", "{dataset}")
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        phantom=lambda wc: dataset_config(wc)["phantom"],
    script:
        "../workflow/scripts/phantom.py"


rule validate_raw:
    """Validate every case of a raw dataset; write raw_report.json."""
    input:
        raw_inputs,
    output:
        LAYOUT.data("raw_report.json"),
    log:
        LAYOUT.log("validate_raw", "{dataset}"),
    conda:
        ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        root=raw_root,
        allow_absent_labels=lambda wc: dataset_config(wc)["allow_absent_labels"],
    script:
        "../workflow/scripts/validate_raw.py"


rule splits:
    """Patient-level train / validation / test split of a dataset (splits.json; a
    cross-validated dataset: which fold tests each patient; a fold: its split)."""
    input:
        raw_report,
    output:
        LAYOUT.data("splits.json"),
    log:
        LAYOUT.log("splits", "{dataset}"),
    conda:
        ENV
    params:
        splits=lambda wc: dataset_config(wc)["splits"],
    script:
        "../workflow/scripts/splits.py"


checkpoint fingerprint:
    """Fingerprint of a raw dataset: spacings, shapes, intensities, classes (fingerprint.json)."""
    input:
        report=LAYOUT.data("raw_report.json"),
    output:
        LAYOUT.data("fingerprint.json"),
    log:
        LAYOUT.log("fingerprint", "{dataset}"),
    conda:
        ENV
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        root=raw_root,
        preprocess=fingerprint_settings,
    script:
        "../workflow/scripts/fingerprint.py"


rule plan:
    """The dataset's plan: every planned setting, its value, source and reason (plans.json)."""
    input:
        fingerprint_file,
    output:
        plan=LAYOUT.data("plans.json"),
        markdown=LAYOUT.table("plan", "md"),
        html=report(
            LAYOUT.table("plan", "html"),
            category="Plans",
            labels={"dataset": "{dataset}"},
            caption="../report/plan.rst",
        ),
    log:
        LAYOUT.log("plan", "{dataset}"),
    conda:
        ENV
    params:
        plan=lambda wc: dataset_plan(wc.dataset),
    script:
        "../workflow/scripts/plan.py"


rule preprocess:
    """Resample, crop and normalise a dataset into memory-mappable arrays."""
    input:
        report=raw_report,
        splits=LAYOUT.data("splits.json"),
        fingerprint=fingerprint_file,
    output:
        directory(LAYOUT.preprocessed()),
    log:
        LAYOUT.log("preprocess", "{dataset}"),
    benchmark:
        LAYOUT.benchmark("preprocess", "{dataset}")
    conda:
        ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        root=raw_root,
        preprocess=lambda wc: planned(wc)["datasets"][wc.dataset]["preprocess"],
    script:
        "../workflow/scripts/preprocess.py"


rule data_overview:
    """Figure: cases of a dataset in three orientations with their labels."""
    input:
        preprocessed=shown_preprocessed,
        plan=LAYOUT.data("plans.json"),
    output:
        report(
            LAYOUT.figure("data_overview"),
            category="Data",
            labels={"dataset": "{dataset}"},
            caption="../report/data_overview.rst",
        ),
    log:
        LAYOUT.log("data_overview", "{dataset}"),
    conda:
        ENV
    params:
        max_cases=config["figures"]["overview_max_cases"],
    script:
        "../workflow/scripts/data_overview.py"
