"""The paper's comparisons per dataset: Wilcoxon/Holm statistics and the results tables."""


rule statistics:
    input:
        lambda wc: model_files(wc, "metrics/{model}.csv"),
    output:
        f"{STUDY}/tables/statistics_{{dataset}}.csv",
    log:
        f"{STUDY}/logs/statistics/{{dataset}}.log",
    conda:
        ENV
    params:
        comparisons=[list(c) for c in kdcfg.paper_comparisons(config)],
    script:
        "../workflow/scripts/statistics.py"


rule study_table:
    input:
        metrics=lambda wc: model_files(wc, "metrics/{model}.csv"),
        predictions=lambda wc: model_files(wc, "predictions/{model}"),
        statistics=f"{STUDY}/tables/statistics_{{dataset}}.csv",
    output:
        csv=f"{STUDY}/tables/study_{{dataset}}.csv",
        md=report(
            f"{STUDY}/tables/study_{{dataset}}.md",
            category="Tables",
            caption="../report/study_table.rst",
        ),
        tex=f"{STUDY}/tables/study_{{dataset}}.tex",
    log:
        f"{STUDY}/logs/study_table/{{dataset}}.log",
    conda:
        ENV
    params:
        models=all_models(),
    script:
        "../workflow/scripts/study_table.py"
