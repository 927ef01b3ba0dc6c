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
from kdseg import locks as kdlocks
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
    kdcfg.validate_config(config)
    kdcfg.check_device(config, local=workflow.local_exec and not workflow.remote_exec)
except ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None
# Keys in sorted order, in place: the params Snakemake records (and compares to decide what to
# re-run) then do not depend on the order of keys in the study file.
_canonical = kdcfg.canonical(config)
config.clear()
config.update(_canonical)

STUDY = kdcfg.study_dir(config)


onstart:
    # the study folder is held while Snakemake runs (not in a dry run): a run of the same
    # study from another working directory is refused (kdseg.locks.hold_study)
    try:
        kdlocks.hold_study(STUDY)
    except KdsegError as err:
        raise WorkflowError(str(err)) from None


if (_why := kdcfg.trained_nothing(config)) is not None:
    logger.warning(f"study {config['study']!r} trains no network: {_why}")
ENV = "../envs/kdseg.yaml"
# the conda environment's post-deploy script installs kdseg from this workflow's folder
os.environ.update(KDSEG_WORKFLOW_DIR=workflow.basedir)
DATASETS = list(config["datasets"])
# the teacher slot of student paths: an ensemble, or an online entry's <arch>-<loss>
STUDENT_TEACHERS = kdcfg.student_teachers(config)
# the config as each dataset sees it (ensembles and students may name their datasets)
VIEWS = {ds: kdcfg.dataset_view(config, ds) for ds in DATASETS}
# per dataset: the student comparison table's models, each student's method and baseline
COMPARED_STUDENTS = {ds: kdcfg.compared_students(VIEWS[ds]) for ds in DATASETS}
# public data: <data_dir>/{downloads,sources,nnUNet_raw}, shared between studies
DATA = config["data_dir"]
CONVERSIONS = kdsrc.conversions(config)  # raw_name -> (source, converter options)


wildcard_constraints:
    dataset="|".join(DATASETS),
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


def checkpoint_beside(name):
    """Param: the resumable checkpoint in the folder of the job's output ``name``."""
    return lambda wildcards, output: os.path.join(
        os.path.dirname(output[name]), "checkpoint.pt"
    )


def fingerprint_file(wildcards):
    """Input: the job's dataset's fingerprint, a checkpoint: the plan (and so the job's params)
    is made from it once it exists."""
    return checkpoints.fingerprint.get(dataset=wildcards.dataset).output[0]


@functools.cache
def _plan(dataset, path, mtime):
    fingerprint = json.loads(Path(path).read_text())
    plan = kdcfg.plan_dataset(fingerprint, config, EXPLICIT, dataset)
    return plan, kdcfg.canonical(kdcfg.apply_plan(config, plan))


def _plan_and_config(dataset):
    """(plan, planned config) of a dataset, made once per version of its fingerprint."""
    path = checkpoints.fingerprint.get(dataset=dataset).output[0]
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
    return kdcfg.raw_root(config, wildcards.dataset)


def raw_inputs(wildcards):
    """Files (or the generated folder) of the job's raw dataset."""
    return kdcfg.raw_inputs(config, wildcards.dataset)


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
        + teacher_targets()
        + training_table_targets()
        + study_targets()
        + student_table_targets()
    )


def teacher_models(dataset):
    """Model ids (paths under a dataset) of every teacher its ensembles name."""
    return kdcfg.teacher_models(VIEWS[dataset])


def teacher_files(wildcards, pattern):
    """``pattern`` (with ``{model}``) for every teacher of the job's dataset."""
    return [
        f"{STUDY}/{wildcards.dataset}/{pattern.format(model=m)}"
        for m in teacher_models(wildcards.dataset)
    ]


def teacher_targets():
    """Per-dataset teacher tables (which need every teacher trained and evaluated)."""
    return [
        f"{STUDY}/tables/teachers_{ds}.{ext}"
        for ds in DATASETS
        if teacher_models(ds)
        for ext in ("csv", "md", "html")
    ]


def data_targets():
    """Preprocessed datasets, their splits and overview figures."""
    return expand(
        [
            f"{STUDY}/{{dataset}}/preprocessed",
            f"{STUDY}/{{dataset}}/splits.json",
            f"{STUDY}/{{dataset}}/plans.json",
            f"{STUDY}/figures/data_overview_{{dataset}}.png",
        ],
        dataset=DATASETS,
    )


def ensemble_member_predictions(wildcards):
    """Test prediction folders of the job's ensemble's members."""
    return [
        f"{STUDY}/{wildcards.dataset}/predictions/{m}"
        for m in kdcfg.ensemble_members(config, wildcards.ensemble)
    ]


def soft_label_model_files(wildcards):
    """Model files whose mean probabilities are the job's soft labels."""
    return [
        f"{STUDY}/{wildcards.dataset}/{m}/model.pt"
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


def student_id(wildcards):
    """Model id of the job's student."""
    w = wildcards
    return f"students/{w.student}/{w.teacher}/{w.arch}/seed{w.seed}"


def student_teacher_files(wildcards):
    """What the job's student reads from its teachers (named inputs, see train_student)."""
    needs = kdcfg.student_needs(config, student_id(wildcards))
    where = f"{STUDY}/{wildcards.dataset}"
    files = {
        "soft_labels": [f"{where}/{m}/soft_labels" for m in needs.soft_labels],
        "models": [f"{where}/{m}/model.pt" for m in needs.models],
    }
    if needs.init is not None:
        files["init"] = f"{where}/{needs.init}/model.pt"
    return files


def baseline_inputs(wildcards):
    """A baseline's preprocessed data and, when a teacher is the same network, its model."""
    inputs = {
        "preprocessed": f"{STUDY}/{wildcards.dataset}/preprocessed",
        "fingerprint": fingerprint_file(wildcards),
    }
    baseline = f"baselines/{wildcards.arch}-{wildcards.loss}/seed{wildcards.seed}"
    teacher = kdcfg.teacher_equal_to_baseline(VIEWS[wildcards.dataset], baseline)
    if teacher is not None:
        inputs["teacher"] = f"{STUDY}/{wildcards.dataset}/{teacher}/model.pt"
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
            f"ensembles/{e}"
            for e in view["ensembles"]
            if len(kdcfg.ensemble_members(view, e)) > 1
        ]
        + kdcfg.student_models(view)
        + kdcfg.online_models(view)
        + kdcfg.baseline_models(view)
    )


def trained_histories(dataset):
    """{model id: training.csv} of every network trained for a dataset (an online pair's
    two networks share one history, listed once under the pair)."""
    view = VIEWS[dataset]
    models = (
        teacher_models(dataset)
        + kdcfg.student_models(view)
        + sorted({m.rsplit("/", 1)[0] for m in kdcfg.online_models(view)})
        + kdcfg.baseline_models(view)
    )
    return {m: f"{STUDY}/{dataset}/{m}/training.csv" for m in models}


def doubled_histories(dataset):
    """{model id: training.csv of its doubled run} of the networks the doubling check covers
    (none without the check)."""
    view = VIEWS[dataset]
    return {
        m: f"{STUDY}/{dataset}/{kdcfg.doubled_run(view, m)}/training.csv"
        for m in kdcfg.doubling_checked(view)
    }


def doubled_training(wildcards, arch):
    """The job's training settings with twice the iterations (the doubling check)."""
    return kdcfg.scaled_training(
        kdcfg.training_settings(planned(wildcards), wildcards.dataset, arch), 2
    )


def training_table_csv(wildcards):
    """The dataset's table of training curves (none when it trains no network)."""
    if not trained_histories(wildcards.dataset):
        return []
    return f"{STUDY}/tables/training_{wildcards.dataset}.csv"


def ensemble_members_of(dataset):
    """{ensemble model id: its members' model ids} of a dataset."""
    view = VIEWS[dataset]
    return {
        f"ensembles/{name}": kdcfg.ensemble_members(view, name)
        for name in view["ensembles"]
    }


def training_table_targets():
    """Per-dataset tables of training curves."""
    return [
        f"{STUDY}/tables/training_{ds}.{ext}"
        for ds in DATASETS
        if trained_histories(ds)
        for ext in ("csv", "md", "html")
    ]


def model_files(wildcards, pattern):
    """``pattern`` (with ``{model}``) for every model of the job's dataset."""
    return [
        f"{STUDY}/{wildcards.dataset}/{pattern.format(model=m)}"
        for m in all_models(wildcards.dataset)
    ]


def compared_files(wildcards, pattern):
    """``pattern`` (with ``{model}``) for every model of the student comparison table."""
    return [
        f"{STUDY}/{wildcards.dataset}/{pattern.format(model=m)}"
        for m in COMPARED_STUDENTS[wildcards.dataset][0]
    ]


def student_table_targets():
    """Per-dataset student comparison tables (of datasets with students)."""
    return [
        f"{STUDY}/tables/students_{ds}.{ext}"
        for ds in DATASETS
        if kdcfg.student_models(VIEWS[ds], final=True)
        for ext in ("csv", "md", "html")
    ]


def study_targets():
    """Per-dataset statistics and results tables of all models."""
    patterns = [
        "tables/statistics_{ds}.csv",
        "tables/findings_{ds}.html",
        "tables/study_{ds}.csv",
        "tables/study_{ds}.md",
        "tables/study_{ds}.tex",
        "tables/study_{ds}.html",
        "figures/dice_boxplots_{ds}.png",
        "figures/footprint_{ds}.png",
        "figures/qualitative_{ds}.png",
        "figures/calibration_{ds}.png",
    ]
    return [
        f"{STUDY}/{p.format(ds=ds)}"
        for ds in DATASETS
        if all_models(ds)
        for p in patterns
    ]
