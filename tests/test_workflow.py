"""The real Snakemake CLI on tiny studies: data stages, reruns, bad config, bad raw data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml
from conftest import REPO, TINY, make_tiny

from kdseg.data.nifti import write_volume

pytestmark = pytest.mark.workflow
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(workdir: Path, config: dict | Path, *args: str) -> subprocess.CompletedProcess:
    """Run the project's workflow with a study file in ``workdir``."""
    if isinstance(config, dict):
        path = workdir / "study.yaml"
        path.write_text(yaml.safe_dump(config))
    else:
        path = config
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(path),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def tiny_config(raw_path: Path | None = None) -> dict:
    datasets = {
        "Heart": {
            "source": "phantom",
            "phantom": {"kind": "cardiac", "cases": 3, "seed": 4, **TINY["cardiac"]},
            "splits": {"test": 1, "validation": 0, "group_pattern": r"^(patient\d+)_"},
        }
    }
    if raw_path is not None:
        datasets["Own"] = {
            "source": "raw",
            "path": str(raw_path),
            "preprocess": {"target_spacing": [8, 8, 8]},
            "splits": {"test": 1, "validation": 1},
        }
    return {"study": "tiny", "threads": 1, "datasets": datasets}


def test_default_config_dry_run(tmp_path):
    res = snakemake(tmp_path, REPO / "config" / "config.yaml", "--dry-run")
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for rule, count in [
        ("phantom", 3),
        ("validate_raw", 3),
        ("splits", 3),
        ("preprocess", 3),
        ("data_overview", 3),
    ]:
        assert any(line.split() == [rule, str(count)] for line in out.splitlines()), (rule, out)


def test_tiny_study_runs_and_rerun_does_nothing(tmp_path):
    own = make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=4)
    config = tiny_config(own)
    res = snakemake(tmp_path, config)
    assert res.returncode == 0, res.stderr[-3000:]
    study = tmp_path / "results" / "tiny"
    for ds, n_cases in (("Heart", 6), ("Own", 4)):
        manifest = json.loads((study / ds / "preprocessed" / "manifest.json").read_text())
        assert len(manifest["cases"]) == n_cases
        splits = json.loads((study / ds / "splits.json").read_text())
        assert sum(len(splits[k]) for k in ("train", "validation", "test")) == n_cases
        assert (study / "figures" / f"data_overview_{ds}.png").stat().st_size > 1000
        assert (study / "logs" / "preprocess" / f"{ds}.log").exists()
    assert (
        json.loads((study / "Own" / "preprocessed" / "manifest.json").read_text())["dataset"][
            "labels"
        ]["aorta"]
        == 4
    )
    # ED and ES of a patient are in the same split
    heart = json.loads((study / "Heart" / "splits.json").read_text())
    assert {c.split("_")[0] for c in heart["test"]} == {heart["test"][0].split("_")[0]}

    again = snakemake(tmp_path, config, "--dry-run")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr

    # a changed split seed re-runs splits and what follows, not the phantom or the validation
    config["datasets"]["Heart"]["splits"]["seed"] = 7
    changed = snakemake(tmp_path, config, "--dry-run")
    jobs = {
        line.split()[0]: int(line.split()[1])
        for line in (changed.stdout).splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    assert jobs.get("splits") == 1 and jobs.get("preprocess") == 1 and "phantom" not in jobs
    assert "validate_raw" not in jobs


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(colour="red"), "config key 'colour': unknown key"),
        (
            lambda c: c["datasets"]["Heart"]["phantom"].update(cases="many"),
            "config key 'datasets.Heart.phantom.cases': 'many' is not of type 'integer'",
        ),
        (
            lambda c: c["datasets"]["Heart"]["phantom"].update(noise=-1),
            "config key 'datasets.Heart.phantom.noise': -1 is less than the minimum of 0",
        ),
        (
            lambda c: c["datasets"]["Heart"]["splits"].update(tset=1),
            "config key 'datasets.Heart.splits.tset': unknown key",
        ),
        (
            lambda c: c["datasets"].update(Own={"source": "raw"}),
            "config key 'datasets.Own.path': required",
        ),
        (
            lambda c: c["datasets"].update(Own={"source": "raw", "path": "/nowhere"}),
            "/nowhere is not an nnU-Net v2 raw dataset",
        ),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, edit, message):
    config = tiny_config()
    edit(config)
    res = snakemake(tmp_path, config)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "results").exists()


def test_bad_raw_data_stops_before_preprocessing(tmp_path):
    own = make_tiny(tmp_path / "Dataset008_Bad", "thorax", cases=4)
    path = own / "labelsTr" / "thorax_002.nii.gz"
    img = nib.load(path)
    data = np.asarray(img.dataobj).copy()
    data[0, 0, 0] = 9
    write_volume(path, data, img.affine)
    config = tiny_config(own)
    del config["datasets"]["Heart"]
    res = snakemake(tmp_path, config)
    assert res.returncode != 0
    assert (
        "case thorax_002: " in res.stderr and "label value(s) [9] not in dataset.json" in res.stderr
    )
    study = tmp_path / "results" / "tiny" / "Own"
    assert not (study / "raw_report.json").exists()
    assert not (study / "preprocessed").exists()
