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


rule preprocess:
    """Resample, crop and normalise a dataset into memory-mappable arrays."""
    input:
        report=f"{STUDY}/{{dataset}}/raw_report.json",
        splits=f"{STUDY}/{{dataset}}/splits.json",
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
        preprocess=lambda wc: dataset_config(wc)["preprocess"],
    script:
        "../workflow/scripts/preprocess.py"


rule data_overview:
    """Figure: cases of a dataset in three orientations with their labels."""
    input:
        f"{STUDY}/{{dataset}}/preprocessed",
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
