"""The paper's comparisons per dataset: Wilcoxon/Holm statistics and the results tables."""


rule statistics:
    """Wilcoxon tests with Holm's correction for the study's comparisons."""
    input:
        metrics=lambda wc: model_files(wc, LAYOUT.metrics),
        splits=LAYOUT.data("splits.json"),
        training=training_table_csv,
    output:
        csv=LAYOUT.table("statistics", "csv"),
        findings=report(
            LAYOUT.table("findings", "html"),
            category="Findings",
            labels={"dataset": "{dataset}"},
            caption="../report/findings.rst",
        ),
    log:
        LAYOUT.log("statistics", "{dataset}"),
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
        metrics=lambda wc: model_files(wc, LAYOUT.metrics),
        predictions=lambda wc: model_files(wc, LAYOUT.predictions),
        statistics=LAYOUT.table("statistics", "csv"),
        training=training_table_csv,
    output:
        csv=LAYOUT.table("study", "csv"),
        md=LAYOUT.table("study", "md"),
        tex=LAYOUT.table("study", "tex"),
        html=report(
            LAYOUT.table("study", "html"),
            category="Tables",
            subcategory="{dataset}",
            labels={"table": "results (every model)"},
            caption="../report/study_table.rst",
        ),
    log:
        LAYOUT.log("study_table", "{dataset}"),
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
        metrics=lambda wc: compared_files(wc, LAYOUT.metrics),
        predictions=lambda wc: compared_files(wc, LAYOUT.predictions),
        statistics=LAYOUT.table("statistics", "csv"),
    output:
        csv=LAYOUT.table("students", "csv"),
        md=LAYOUT.table("students", "md"),
        html=report(
            LAYOUT.table("students", "html"),
            category="Tables",
            subcategory="{dataset}",
            labels={"table": "students"},
            caption="../report/student_table.rst",
        ),
    log:
        LAYOUT.log("student_table", "{dataset}"),
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
        metrics=lambda wc: model_files(wc, LAYOUT.metrics),
        predictions=lambda wc: model_files(wc, LAYOUT.predictions),
        preprocessed=shown_preprocessed,
    output:
        boxplots=report(
            LAYOUT.figure("dice_boxplots"),
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "Dice per structure (boxplots)"},
            caption="../report/dice_boxplots.rst",
        ),
        footprint=report(
            LAYOUT.figure("footprint"),
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "Dice against cost"},
            caption="../report/footprint.rst",
        ),
        qualitative=report(
            LAYOUT.figure("qualitative"),
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "qualitative panel"},
            caption="../report/qualitative.rst",
        ),
        calibration=report(
            LAYOUT.figure("calibration"),
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "calibration"},
            caption="../report/calibration.rst",
        ),
        calibration_json=LAYOUT.table("calibration", "json"),
    log:
        LAYOUT.log("study_figures", "{dataset}"),
    conda:
        ENV
    params:
        models=lambda wc: all_models(wc.dataset),
    script:
        "../workflow/scripts/study_figures.py"
