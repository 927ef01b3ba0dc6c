"""Data stages: generate phantoms, validate raw data, split, preprocess, overview figure."""


rule phantom:
    output:
        directory(f"{STUDY}/{{dataset}}/raw"),
    params:
        phantom=lambda wc: dataset_config(wc)["phantom"],
    log:
        f"{STUDY}/logs/phantom/{{dataset}}.log",
    benchmark:
        f"{STUDY}/benchmarks/phantom/{{dataset}}.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow/scripts/make_phantom.py"


rule validate_raw:
    input:
        raw_inputs,
    output:
        f"{STUDY}/{{dataset}}/raw_report.json",
    params:
        root=raw_root,
    log:
        f"{STUDY}/logs/validate_raw/{{dataset}}.log",
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow/scripts/validate_raw.py"


rule splits:
    input:
        f"{STUDY}/{{dataset}}/raw_report.json",
    output:
        f"{STUDY}/{{dataset}}/splits.json",
    params:
        splits=lambda wc: dataset_config(wc)["splits"],
    log:
        f"{STUDY}/logs/splits/{{dataset}}.log",
    script:
        "../workflow/scripts/make_splits.py"


rule preprocess:
    input:
        report=f"{STUDY}/{{dataset}}/raw_report.json",
        splits=f"{STUDY}/{{dataset}}/splits.json",
    output:
        directory(f"{STUDY}/{{dataset}}/preprocessed"),
    params:
        root=raw_root,
        preprocess=lambda wc: dataset_config(wc)["preprocess"],
    threads: config["threads"]
    log:
        f"{STUDY}/logs/preprocess/{{dataset}}.log",
    benchmark:
        f"{STUDY}/benchmarks/preprocess/{{dataset}}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow/scripts/preprocess.py"


rule data_overview:
    input:
        f"{STUDY}/{{dataset}}/preprocessed",
    output:
        report(
            f"{STUDY}/figures/data_overview_{{dataset}}.png",
            category="Data",
            caption="../report/data_overview.rst",
        ),
    params:
        max_cases=config["figures"]["overview_max_cases"],
    log:
        f"{STUDY}/logs/data_overview/{{dataset}}.log",
    script:
        "../workflow/scripts/plot_overview.py"


def data_targets():
    """Preprocessed datasets, their splits and overview figures."""
    return expand(
        [
            f"{STUDY}/{{dataset}}/preprocessed",
            f"{STUDY}/{{dataset}}/splits.json",
            f"{STUDY}/figures/data_overview_{{dataset}}.png",
        ],
        dataset=DATASETS,
    )
