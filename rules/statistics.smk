"""The paper's comparisons per dataset: Wilcoxon/Holm statistics and the results tables."""


rule statistics:
    """Wilcoxon tests with Holm's correction for the study's comparisons."""
    input:
        metrics=lambda wc: model_files(wc, "metrics/{model}.csv"),
        splits=f"{STUDY}/{{dataset}}/splits.json",
        training=training_table_csv,
    output:
        csv=f"{STUDY}/tables/statistics_{{dataset}}.csv",
        findings=report(
            f"{STUDY}/tables/findings_{{dataset}}.html",
            category="Findings",
            labels={"dataset": "{dataset}"},
            caption="../report/findings.rst",
        ),
    log:
        f"{STUDY}/logs/statistics/{{dataset}}.log",
    conda:
        ENV
    params:
        comparisons=lambda wc: [
            list(c) for c in kdcfg.paper_comparisons(VIEWS[wc.dataset])
        ],
        unit=config["statistics"]["unit"],
        members=lambda wc: ensemble_members_of(wc.dataset),
    script:
        "../workflow/scripts/statistics.py"


rule study_table:
    """The paper's comparison table of a dataset (CSV, Markdown, LaTeX, HTML)."""
    input:
        metrics=lambda wc: model_files(wc, "metrics/{model}.csv"),
        predictions=lambda wc: model_files(wc, "predictions/{model}"),
        statistics=f"{STUDY}/tables/statistics_{{dataset}}.csv",
        training=training_table_csv,
    output:
        csv=f"{STUDY}/tables/study_{{dataset}}.csv",
        md=f"{STUDY}/tables/study_{{dataset}}.md",
        tex=f"{STUDY}/tables/study_{{dataset}}.tex",
        html=report(
            f"{STUDY}/tables/study_{{dataset}}.html",
            category="Tables",
            subcategory="{dataset}",
            labels={"table": "results (every model)"},
            caption="../report/study_table.rst",
        ),
    log:
        f"{STUDY}/logs/study_table/{{dataset}}.log",
    conda:
        ENV
    params:
        models=lambda wc: all_models(wc.dataset),
        members=lambda wc: ensemble_members_of(wc.dataset),
    script:
        "../workflow/scripts/study_table.py"


rule student_table:
    """Table of a dataset's students against their teachers and baselines."""
    input:
        metrics=lambda wc: compared_files(wc, "metrics/{model}.csv"),
        predictions=lambda wc: compared_files(wc, "predictions/{model}"),
        statistics=f"{STUDY}/tables/statistics_{{dataset}}.csv",
    output:
        csv=f"{STUDY}/tables/students_{{dataset}}.csv",
        md=f"{STUDY}/tables/students_{{dataset}}.md",
        html=report(
            f"{STUDY}/tables/students_{{dataset}}.html",
            category="Tables",
            subcategory="{dataset}",
            labels={"table": "students"},
            caption="../report/student_table.rst",
        ),
    log:
        f"{STUDY}/logs/student_table/{{dataset}}.log",
    conda:
        ENV
    params:
        models=lambda wc: COMPARED_STUDENTS[wc.dataset][0],
        methods=lambda wc: COMPARED_STUDENTS[wc.dataset][1],
        baselines=lambda wc: COMPARED_STUDENTS[wc.dataset][2],
    script:
        "../workflow/scripts/student_table.py"


rule study_figures:
    """Figures of a dataset: boxplots, calibration, footprint, qualitative panel."""
    input:
        metrics=lambda wc: model_files(wc, "metrics/{model}.csv"),
        predictions=lambda wc: model_files(wc, "predictions/{model}"),
        preprocessed=f"{STUDY}/{{dataset}}/preprocessed",
    output:
        boxplots=report(
            f"{STUDY}/figures/dice_boxplots_{{dataset}}.png",
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "Dice per structure (boxplots)"},
            caption="../report/dice_boxplots.rst",
        ),
        footprint=report(
            f"{STUDY}/figures/footprint_{{dataset}}.png",
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "Dice against cost"},
            caption="../report/footprint.rst",
        ),
        qualitative=report(
            f"{STUDY}/figures/qualitative_{{dataset}}.png",
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "qualitative panel"},
            caption="../report/qualitative.rst",
        ),
        calibration=report(
            f"{STUDY}/figures/calibration_{{dataset}}.png",
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "calibration"},
            caption="../report/calibration.rst",
        ),
        calibration_json=f"{STUDY}/tables/calibration_{{dataset}}.json",
    log:
        f"{STUDY}/logs/study_figures/{{dataset}}.log",
    conda:
        ENV
    params:
        models=lambda wc: all_models(wc.dataset),
    script:
        "../workflow/scripts/study_figures.py"
