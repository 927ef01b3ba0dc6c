"""What a study makes: the models of each dataset, their files, and the targets of the
default rule."""


def all_targets():
    """The targets of the default rule; each stage of the study adds its own."""
    return (
        data_targets()
        + model_targets()
        + teacher_targets()
        + training_table_targets()
        + study_targets()
        + student_table_targets()
    )


def model_targets():
    """Every model's documented files (docs/usage.md#outputs): a trained network's folder,
    predictions and metrics, the soft labels students learn from. As targets, one that went
    missing (a killed forced re-run) is made again though what follows it exists."""
    targets = []
    for ds in TRAINED:  # where networks train: their files and soft labels
        view = VIEWS[ds]
        targets += [LAYOUT.model_file(m, ds) for m in kdcfg.phase_models(view)]
        for model, history in trained_histories(ds).items():
            targets += [history, LAYOUT.curves(model, ds)]
            if model.startswith(("teachers/", "students/", "baselines/")):
                targets.append(LAYOUT.model_file(model, ds))
        for student in kdcfg.student_models(view):
            needs = kdcfg.student_needs(view, student)
            targets += [LAYOUT.soft_labels(m, ds) for m in needs.soft_labels]
    # what is evaluated (a cross-validated dataset: its pooled folds)
    for ds in DATASETS:
        for model in all_models(ds):
            targets += [LAYOUT.predictions(model, ds), LAYOUT.metrics(model, ds)]
    return list(dict.fromkeys(targets))


def teacher_models(dataset):
    """Model ids (paths under a dataset) of every teacher its ensembles name."""
    return kdcfg.teacher_models(VIEWS[dataset])


def teacher_files(wildcards, where):
    """``where(model, dataset)`` (a LAYOUT method) of every teacher of the job's dataset."""
    return [where(m, wildcards.dataset) for m in teacher_models(wildcards.dataset)]


def teacher_targets():
    """Per-dataset teacher tables (which need every teacher trained and evaluated)."""
    return [
        LAYOUT.table("teachers", ext, ds)
        for ds in DATASETS
        if teacher_models(ds)
        for ext in ("csv", "md", "html")
    ]


def data_targets():
    """Preprocessed datasets, their splits and overview figures."""
    return [
        path
        for ds in DATASETS
        for path in (
            *[LAYOUT.preprocessed(f) for f in FOLDS[ds] or [ds]],
            *[LAYOUT.data("splits.json", f) for f in FOLDS[ds]],
            LAYOUT.data("splits.json", ds),
            LAYOUT.data("plans.json", ds),
            LAYOUT.figure("data_overview", ds),
        )
    ]


def all_models(dataset):
    """Model ids of everything evaluated on a dataset: teachers, ensembles, students,
    baselines."""
    view = VIEWS[dataset]
    return (
        teacher_models(dataset)
        + [
            ids.ensemble_id(e)
            for e in view["ensembles"]
            if len(kdcfg.ensemble_members(view, e)) > 1
        ]
        + kdcfg.student_models(view)
        + kdcfg.phase_models(view)
        + kdcfg.baseline_models(view)
    )


def trained_histories(dataset):
    """{model id: training.csv} of every network trained for a dataset (an online pair's
    two networks share one history, listed once under the pair; a cross-validated dataset's:
    each fold's, as ``fold<k>/<model id>``)."""
    if FOLDS.get(dataset):
        return _per_fold(dataset, trained_histories)
    view = VIEWS[dataset]
    models = (
        teacher_models(dataset)
        + kdcfg.student_models(view)
        + sorted({m.rsplit("/", 1)[0] for m in kdcfg.phase_models(view)})
        + kdcfg.baseline_models(view)
    )
    return {m: LAYOUT.history(m, dataset) for m in models}


def doubled_histories(dataset):
    """{model id: training.csv of its doubled run} of the networks the doubling check covers
    (none without the check)."""
    if FOLDS.get(dataset):
        return _per_fold(dataset, doubled_histories)
    view = VIEWS[dataset]
    return {
        m: LAYOUT.history(kdcfg.doubled_run(view, m), dataset)
        for m in kdcfg.doubling_checked(view)
    }


def _per_fold(dataset, files_of):
    """``files_of`` (model id -> file) of each fold of ``dataset``, keyed by fold model."""
    return {
        cv.fold_model(model, k): path
        for k, fold in enumerate(FOLDS[dataset], 1)
        for model, path in files_of(fold).items()
    }


def training_table_csv(wildcards):
    """The dataset's table of training curves (none when it trains no network)."""
    if not trained_histories(wildcards.dataset):
        return []
    return LAYOUT.table("training", "csv", wildcards.dataset)


def ensemble_members_of(dataset):
    """{ensemble model id: its members' model ids} of a dataset."""
    view = VIEWS[dataset]
    return {
        ids.ensemble_id(name): kdcfg.ensemble_members(view, name)
        for name in view["ensembles"]
    }


def training_table_targets():
    """Per-dataset tables of training curves."""
    return [
        LAYOUT.table("training", ext, ds)
        for ds in DATASETS
        if trained_histories(ds)
        for ext in ("csv", "md", "html")
    ]


def model_files(wildcards, where):
    """``where(model, dataset)`` (a LAYOUT method) of every model of the job's dataset."""
    return [where(m, wildcards.dataset) for m in all_models(wildcards.dataset)]


def compared_files(wildcards, where):
    """``where(model, dataset)`` (a LAYOUT method) of every model of the student table."""
    return [
        where(m, wildcards.dataset) for m in COMPARED_STUDENTS[wildcards.dataset][0]
    ]


def student_table_targets():
    """Per-dataset student comparison tables (of datasets with students)."""
    return [
        LAYOUT.table("students", ext, ds)
        for ds in DATASETS
        if kdcfg.student_models(VIEWS[ds], final=True)
        for ext in ("csv", "md", "html")
    ]


def study_targets():
    """Per-dataset statistics and results tables of all models."""
    tables = [("statistics", "csv"), ("findings", "html")]
    tables += [("study", ext) for ext in ("csv", "md", "tex", "html")]
    figures = ("dice_boxplots", "footprint", "qualitative", "calibration")
    return [
        path
        for ds in DATASETS
        if all_models(ds)
        for path in [LAYOUT.table(n, ext, ds) for n, ext in tables]
        + [LAYOUT.figure(name, ds) for name in figures]
    ]
