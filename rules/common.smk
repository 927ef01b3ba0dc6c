"""Config validation and target helpers shared by every rule file."""

import copy
import functools
import json
import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

# kdseg is an installed package (`pip install -e .`, which `make setup` does; conda jobs:
# envs/kdseg.post-deploy.sh), imported like any other
from kdseg import config as kdcfg
from kdseg.runtime import locks as kdlocks
from kdseg.config import folds as cv
from kdseg.config import model_ids as ids
from kdseg.config.layout import Layout
from kdseg.data import study_data
from kdseg.data.sources import study as kdsrc
from kdseg.errors import ConfigError, KdsegError

min_version("9.0")

try:
    # duplicate keys, which Snakemake's YAML reading would silently merge, are refused
    for _study_file in workflow.configfiles:
        kdcfg.read_study_file(_study_file)
    # --config values typed as in a study file (Snakemake leaves nested ones strings)
    kdcfg.apply_overrides(config, dict(workflow.config_settings.config))
    kdcfg.default_study_name(config, list(workflow.overwrite_configfiles or []))
    # what the study file (and --config) set, before the schema's defaults fill in the rest: a
    # value set there wins over the dataset's plan
    EXPLICIT = copy.deepcopy(config)
    study_data.validate_study(config)
    kdcfg.check_device(config, local=workflow.local_exec and not workflow.remote_exec)
except ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None
# Keys in sorted order, in place: the params Snakemake records (and compares to decide what to
# re-run) then do not depend on the order of keys in the study file.
_canonical = kdcfg.canonical(config)
config.clear()
config.update(_canonical)
# each fold of a cross-validated dataset (splits.folds) is a dataset <name>/fold<k> of its own
cv.add_fold_datasets(config)
cv.add_fold_datasets(EXPLICIT)

STUDY = kdcfg.study_dir(config)
LAYOUT = Layout(STUDY)  # every output path of the study (kdseg.config.layout)


onstart:
    # the study folder is held while Snakemake runs (not in a dry run): a run of the same
    # study from another working directory is refused (kdseg.runtime.locks.hold_study)
    try:
        kdlocks.hold_study(STUDY)
    except KdsegError as err:
        raise WorkflowError(str(err)) from None


if (_why := kdcfg.trained_nothing(config)) is not None:
    logger.warning(f"study {config['study']!r} trains no network: {_why}")
ENV = "../envs/kdseg.yaml"
# the conda environment's post-deploy script installs kdseg from this workflow's folder
os.environ.update(KDSEG_WORKFLOW_DIR=workflow.basedir)
# the study's datasets (their tables and figures); the datasets networks are trained on: those
# with one split, and the folds of the cross-validated ones (kdseg.config.folds)
DATASETS = [ds for ds in config["datasets"] if cv.parent_dataset(ds) == ds]
FOLDS = {ds: cv.folds_of(config, ds) for ds in DATASETS}
TRAINED = [f for ds in DATASETS for f in FOLDS[ds] or [ds]]
# the teacher slot of student paths: an ensemble, or an online entry's <arch>-<loss>
STUDENT_TEACHERS = kdcfg.student_teachers(config)
# the config as each dataset sees it (ensembles and students may name their datasets)
VIEWS = {
    ds: kdcfg.dataset_view(config, cv.parent_dataset(ds)) for ds in config["datasets"]
}
# per dataset: the student comparison table's models, each student's method and baseline
COMPARED_STUDENTS = {ds: kdcfg.compared_students(VIEWS[ds]) for ds in DATASETS}
# public data: <data_dir>/{downloads,sources,nnUNet_raw}, shared between studies
DATA = config["data_dir"]
CONVERSIONS = kdsrc.conversions(config)  # raw_name -> (source, converter options)


wildcard_constraints:
    dataset="|".join(re.escape(ds) for ds in config["datasets"]),
    arch="|".join(config["architectures"]) or "(?!)",
    loss="|".join(config["losses"]) or "(?!)",
    seed=r"\d+",
    budget=r"[2-9]|[1-9]\d+",
    ensemble="|".join(config["ensembles"]) or "(?!)",
    student="|".join(config["students"]) or "(?!)",
    teacher="|".join(STUDENT_TEACHERS) or "(?!)",
    subset=r"subset\d+of\d+",
    model=r"(teachers|ensembles|students|baselines|online)/[^/]+(/[^/]+)*",
    source="|".join(kdsrc.used_sources(config)) or "(?!)",
    raw_name="|".join(re.escape(name) for name in CONVERSIONS) or "(?!)",
    filename=r"[^/]+",


def job_resources(kind):
    """Scheduler resources of a training or prediction job (config ``resources.<kind>``)."""
    section = config["resources"][kind]
    return {key: section[key] for key in ("gpu", "mem_mb", "runtime")}


def trained(model, in_report=True):
    """Outputs of a job training the model-id pattern ``model`` (kdseg.config.model_ids)."""
    curves = LAYOUT.curves(model)
    if in_report:
        curves = report(
            curves,
            category="Training curves",
            subcategory="{dataset}",
            labels={"model": model},
            caption="../report/training_curves.rst",
        )
    return dict(
        model=LAYOUT.model_file(model), history=LAYOUT.history(model), curves=curves
    )


def job_log(step, model):
    """The log of a job of ``step`` on the model-id pattern ``model`` of a dataset."""
    return LAYOUT.log(step, f"{{dataset}}/{model}")


def job_benchmark(step, model):
    """Snakemake's benchmark file of a job of ``step`` on the model-id pattern ``model``."""
    return LAYOUT.benchmark(step, f"{{dataset}}/{model}")


def architecture_of(wildcards):
    """Param: the job's architecture (``{arch}``) as planned for its dataset."""
    return kdcfg.trained_architecture(
        planned(wildcards), wildcards.dataset, wildcards.arch
    )


def training_of(wildcards):
    """Param: the job's training settings that shape the weights (dataset and architecture
    applied; the job reads the others, kdseg.config.settings.RUNTIME_TRAINING, from the config).
    """
    return kdcfg.learning_settings(
        planned(wildcards), wildcards.dataset, wildcards.arch
    )


def loss_of(wildcards):
    """Param: the job's loss (``{loss}``)."""
    return config["losses"][wildcards.loss]


def checkpoint_beside(name):
    """Param: the resumable checkpoint in the folder of the job's output ``name``."""
    return lambda wildcards, output: os.path.join(
        os.path.dirname(output[name]), "checkpoint.pt"
    )


def fingerprint_file(wildcards):
    """Input: the job's dataset's fingerprint, a checkpoint: the plan (and so the job's params)
    is made from it once it exists (a fold's: its dataset's)."""
    parent = cv.parent_dataset(wildcards.dataset)
    return checkpoints.fingerprint.get(dataset=parent).output[0]


def only(datasets):
    """A wildcard constraint: one of ``datasets`` (none: matches nothing)."""
    return "|".join(re.escape(ds) for ds in datasets) or "(?!)"


def raw_report(wildcards):
    """Input: the validation report of the job's dataset's raw data (a fold's: its dataset's)."""
    return LAYOUT.data("raw_report.json", cv.parent_dataset(wildcards.dataset))


def shown_preprocessed(wildcards):
    """Input: the preprocessed cases figures show (a cross-validated dataset: its first fold's,
    whose test cases its pooled predictions hold)."""
    return LAYOUT.preprocessed((FOLDS[wildcards.dataset] or [wildcards.dataset])[0])


@functools.cache
def _plan(dataset, path, mtime):
    fingerprint = json.loads(Path(path).read_text())
    plan = kdcfg.plan_dataset(fingerprint, config, EXPLICIT, dataset)
    return plan, kdcfg.canonical(kdcfg.apply_plan(config, plan))


def _plan_and_config(dataset):
    """(plan, planned config) of a dataset, made once per version of its fingerprint."""
    parent = cv.parent_dataset(dataset)
    path = checkpoints.fingerprint.get(dataset=parent).output[0]
    return _plan(dataset, path, os.path.getmtime(path))


def dataset_plan(dataset):
    """The plan of a dataset (kdseg.config.plan), made from its fingerprint."""
    return _plan_and_config(dataset)[0]


def planned(wildcards):
    """The config with the planned settings of the job's dataset where the study file sets
    none (its value always wins)."""
    return _plan_and_config(wildcards.dataset)[1]


def fingerprint_settings(wildcards):
    """The preprocess keys a fingerprint depends on (how cases are cropped to the body)."""
    section = dataset_config(wildcards)["preprocess"]
    keys = ("normalization", "mr_body_fraction", "crop_margin")
    settings = {k: section[k] for k in keys if k in section}
    settings["ct"] = {"body_threshold": section["ct"]["body_threshold"]}
    return settings


def dataset_config(wildcards):
    """The config section of the job's dataset."""
    return config["datasets"][wildcards.dataset]


def raw_root(wildcards):
    """Folder of the job's raw dataset (nnU-Net v2 layout)."""
    return study_data.raw_root(config, cv.parent_dataset(wildcards.dataset))


def raw_inputs(wildcards):
    """Files (or the generated folder) of the job's raw dataset."""
    return study_data.raw_inputs(config, cv.parent_dataset(wildcards.dataset))


def download_spec(wildcards):
    """URL, md5 and retry settings of one published file of an open source."""
    return kdsrc.download_spec(config, wildcards.source, wildcards.filename)


def source_files(wildcards):
    """What a source is obtained from: its downloads, or the user's archive or folder once it
    is there (so replacing it re-extracts; while missing, the job explains where to get it).
    """
    return kdsrc.downloaded_files(config, wildcards.source) + [
        p
        for p in [kdsrc.manual_path(config, wildcards.source)]
        if p and os.path.exists(p)
    ]


def manual_path(wildcards):
    """Where the user put a registration-only source."""
    return kdsrc.manual_path(config, wildcards.source)


def conversion_source(wildcards):
    """The obtained source folder a converted dataset is made from."""
    return kdsrc.source_dir(config, CONVERSIONS[wildcards.raw_name][0])


def conversion_source_marker(wildcards):
    """The marker saying that the source folder of a converted dataset is complete."""
    return kdsrc.marker_of(conversion_source(wildcards))


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
        targets += [LAYOUT.model_file(m, ds) for m in kdcfg.online_models(view)]
        for model, history in trained_histories(ds).items():
            targets += [history, LAYOUT.curves(model, ds)]
            if model.startswith(("teachers/", "students/", "baselines/")):
                targets.append(LAYOUT.model_file(model, ds))
        for student in kdcfg.student_models(view):
            needs = kdcfg.student_needs(view, student)
            targets += [LAYOUT.soft_labels(m, ds) for m in needs.soft_labels]
    for (
        ds
    ) in DATASETS:  # what is evaluated (a cross-validated dataset: the pooled folds)
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


def ensemble_member_predictions(wildcards):
    """Test prediction folders of the job's ensemble's members."""
    return [
        LAYOUT.predictions(m, wildcards.dataset)
        for m in kdcfg.ensemble_members(config, wildcards.ensemble)
    ]


def soft_label_model_files(wildcards):
    """Model files whose mean probabilities are the job's soft labels."""
    return [
        LAYOUT.model_file(m, wildcards.dataset)
        for m in kdcfg.soft_label_sources(config, wildcards.model)
    ]


def soft_label_inference(wildcards):
    """The config inference settings of each model of the job's soft labels."""
    return [
        kdcfg.inference_settings(planned(wildcards), wildcards.dataset, m)
        for m in kdcfg.soft_label_sources(config, wildcards.model)
    ]


def online_settings(wildcards):
    """What online KD's joint phase depends on: the entry's settings without phase 2's init."""
    settings = kdcfg.student_settings(config, wildcards.student)
    settings.pop("init", None)
    return settings


def model_id(pattern, wildcards):
    """The model id the job's wildcards give the model-id pattern ``pattern``."""
    return pattern.format(**dict(wildcards.items()))


def student_teacher_files(wildcards):
    """What the job's student reads from its teachers (named inputs, see train_student)."""
    needs = kdcfg.student_needs(config, model_id(ids.STUDENT, wildcards))
    ds = wildcards.dataset
    files = {
        "soft_labels": [LAYOUT.soft_labels(m, ds) for m in needs.soft_labels],
        "models": [LAYOUT.model_file(m, ds) for m in needs.models],
    }
    if needs.init is not None:
        files["init"] = LAYOUT.model_file(needs.init, ds)
    return files


def dataset_inputs(wildcards):
    """What every training job reads: the preprocessed dataset and its fingerprint."""
    return {
        "preprocessed": LAYOUT.preprocessed(wildcards.dataset),
        "fingerprint": fingerprint_file(wildcards),
    }


def baseline_inputs(wildcards):
    """A baseline's preprocessed data and, when a teacher is the same network, its model."""
    inputs = dataset_inputs(wildcards)
    baseline = model_id(ids.BASELINE, wildcards)
    teacher = kdcfg.teacher_equal_to_baseline(VIEWS[wildcards.dataset], baseline)
    if teacher is not None:
        inputs["teacher"] = LAYOUT.model_file(teacher, wildcards.dataset)
    return inputs


def model_inference(wildcards):
    """The config inference settings of the model being predicted."""
    return kdcfg.inference_settings(
        planned(wildcards), wildcards.dataset, wildcards.model
    )


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
        + kdcfg.online_models(view)
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
        + sorted({m.rsplit("/", 1)[0] for m in kdcfg.online_models(view)})
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


def doubled_training(wildcards):
    """The job's training settings with twice the iterations (the doubling check)."""
    return kdcfg.scaled_training(training_of(wildcards), 2)


def budget_training(wildcards):
    """The job's training settings with ``{budget}`` times the iterations."""
    return kdcfg.scaled_training(training_of(wildcards), int(wildcards.budget))


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
