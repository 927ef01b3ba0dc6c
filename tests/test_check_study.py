"""The installation check (.test/config/config.yaml) through the real Snakemake CLI, as the
Snakemake workflow catalog runs a workflow's .test study: every kind of job, once."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest
from test_workflow import REPO, _job_counts

from kdseg import config as kdcfg

pytestmark = pytest.mark.workflow

CHECK = REPO / ".test" / "config" / "config.yaml"
KINDS = {
    "phantom", "validate_raw", "splits", "fingerprint", "plan", "preprocess", "data_overview",
    "train_teacher", "train_subset_teacher", "predict", "evaluate", "predict_ensemble",
    "soft_labels", "train_student", "train_online", "train_baseline", "train_budget_baseline",
    "teacher_table", "training_table", "student_table", "study_table", "statistics",
    "study_figures", "all",
}  # fmt: skip


def test_every_network_of_the_check_study_trains_for_the_global_budget():
    config = kdcfg.load_config(CHECK)
    assert config["training"]["iterations"] == 4
    for section in [*config["architectures"].values(), *config["datasets"].values()]:
        assert "iterations" not in section.get("training", {})
    for dataset in config["datasets"]:
        for arch in config["architectures"]:
            assert kdcfg.training_settings(config, dataset, arch)["iterations"] == 4


def test_the_installation_check_runs_every_kind_of_job(tmp_path):
    (tmp_path / "config").mkdir()
    shutil.copy(CHECK, tmp_path / "config" / "config.yaml")
    # no --configfile: the Snakefile's own `configfile: config/config.yaml` in the directory
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--snakefile",
           str(REPO / "Snakefile"), "--directory", str(tmp_path)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-4000:]
    assert set(_job_counts(res)) >= KINDS
    study = tmp_path / "results" / "check"
    students = pd.read_csv(study / "tables" / "students_Thorax.csv")
    methods = {model.split("/")[1] for model in students["model"] if model.startswith("students/")}
    assert methods == {"kd", "feature", "adaptive", "online", "assistant"}
    again = subprocess.run([*cmd, "--dry-run"], capture_output=True, text=True)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
