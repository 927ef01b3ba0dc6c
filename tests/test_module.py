"""The workflow used as a Snakemake module from a folder outside the checkout, with that
folder's own study file: every job imports the installed kdseg, outputs land in the user's
folder (the real Snakemake CLI)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO

STUDY = """\
study: tiny
datasets:
  T:
    source: phantom
    phantom: {kind: thorax, cases: 6, seed: 1}
    splits: {test: 2, validation: 1, seed: 0}
training: {iterations: 4, batch_size: 1, validate_every: 2, validation_cases: 1,
           checkpoint_every: 2, log_every: 2}
architectures:
  unet: {network: unet3d, kwargs: {features: [4, 8]}, patch: [16, 16, 16]}
losses: {ce: {name: ce}}
ensembles:
  uniform: {architectures: [unet], losses: [ce], seeds: [1, 2]}
students:
  kd: {ensembles: [uniform], architecture: unet, seeds: [1]}
baselines: {architectures: [unet], loss: ce, seeds: [1]}
"""


@pytest.mark.workflow
def test_the_workflow_runs_as_a_module_from_another_folder(tmp_path):
    (tmp_path / "study.yaml").write_text(STUDY)
    (tmp_path / "Snakefile").write_text(
        'configfile: "study.yaml"\n\n\n'
        f'module kdseg:\n    snakefile:\n        "{REPO / "Snakefile"}"\n'
        "    config:\n        config\n\n\n"
        "use rule * from kdseg\n"
    )
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=tmp_path,
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    study = tmp_path / "results" / "tiny"
    table = pd.read_csv(study / "tables" / "study_T.csv")
    assert {"ensembles/uniform", "students/kd/uniform/unet/seed1"} <= set(table["model"])
    assert (study / "T" / "students" / "kd" / "uniform" / "unet" / "seed1" / "model.pt").is_file()
    assert not (REPO / "results" / "tiny").exists()  # nothing written into the checkout
