"""Data stages: generate phantoms, validate raw data, split, preprocess, overview figure."""


rule phantom:
    """Generate a synthetic dataset (phantom) in the nnU-Net v2 raw layout."""
    output:
        directory(f"{STUDY}/{{dataset}}/raw"),
    log:
        f"{STUDY}/logs/phantom/{{dataset}}.log",
    benchmark:
        f"{STUDY}/benchmarks/phantom/{{dataset}}.tsv"
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
        f"{STUDY}/{{dataset}}/raw_report.json",
    log:
        f"{STUDY}/logs/validate_raw/{{dataset}}.log",
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
    """Patient-level train / validation / test split of a dataset (splits.json)."""
    input:
        f"{STUDY}/{{dataset}}/raw_report.json",
    output:
        f"{STUDY}/{{dataset}}/splits.json",
    log:
        f"{STUDY}/logs/splits/{{dataset}}.log",
    conda:
        ENV
    params:
        splits=lambda wc: dataset_config(wc)["splits"],
    script:
        "../workflow/scripts/splits.py"


checkpoint fingerprint:
    """Fingerprint of a raw dataset: spacings, shapes, intensities, classes (fingerprint.json)."""
    input:
        report=f"{STUDY}/{{dataset}}/raw_report.json",
    output:
        f"{STUDY}/{{dataset}}/fingerprint.json",
    log:
        f"{STUDY}/logs/fingerprint/{{dataset}}.log",
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
        plan=f"{STUDY}/{{dataset}}/plans.json",
        markdown=f"{STUDY}/tables/plan_{{dataset}}.md",
        html=report(
            f"{STUDY}/tables/plan_{{dataset}}.html",
            category="Plans",
            labels={"dataset": "{dataset}"},
            caption="../report/plan.rst",
        ),
    log:
        f"{STUDY}/logs/plan/{{dataset}}.log",
    conda:
        ENV
    params:
        plan=lambda wc: dataset_plan(wc.dataset),
    script:
        "../workflow/scripts/plan.py"


rule preprocess:
    """Resample, crop and normalise a dataset into memory-mappable arrays."""
    input:
        report=f"{STUDY}/{{dataset}}/raw_report.json",
        splits=f"{STUDY}/{{dataset}}/splits.json",
        fingerprint=fingerprint_file,
    output:
        directory(f"{STUDY}/{{dataset}}/preprocessed"),
    log:
        f"{STUDY}/logs/preprocess/{{dataset}}.log",
    benchmark:
        f"{STUDY}/benchmarks/preprocess/{{dataset}}.tsv"
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
        preprocessed=f"{STUDY}/{{dataset}}/preprocessed",
        plan=f"{STUDY}/{{dataset}}/plans.json",
    output:
        report(
            f"{STUDY}/figures/data_overview_{{dataset}}.png",
            category="Data",
            labels={"dataset": "{dataset}"},
            caption="../report/data_overview.rst",
        ),
    log:
        f"{STUDY}/logs/data_overview/{{dataset}}.log",
    conda:
        ENV
    params:
        max_cases=config["figures"]["overview_max_cases"],
    script:
        "../workflow/scripts/data_overview.py"
