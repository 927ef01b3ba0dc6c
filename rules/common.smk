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
# the teacher slot of student paths: an ensemble, or a phase partner's <arch>-<loss>
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
    model=rf"({'|'.join(ids.KINDS)})/[^/]+(/[^/]+)*",
    source="|".join(kdsrc.used_sources(config)) or "(?!)",
    raw_name="|".join(re.escape(name) for name in CONVERSIONS) or "(?!)",
    filename=r"[^/]+",


include: "plans.smk"
include: "jobs.smk"
include: "targets.smk"
