"""Plans through the real Snakemake CLI: a raw dataset of anisotropic voxels, named only by its
path, is fingerprinted, planned and trained with the planned settings; a value the study file
sets wins; a changed budget re-plans and re-trains only the networks whose plan changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_workflow import _job_counts, snakemake

from kdseg.data.phantoms import write_phantom_dataset

pytestmark = pytest.mark.workflow

TEACHERS = ["teachers/dilated-ce/seed1", "teachers/unet-ce/seed1"]


def anisotropic_study(raw: Path) -> dict:
    """A study whose dataset names only its source and path; nothing of the plan is set except
    the U-Net's inference batch (to show that the study file wins)."""
    return {
        "study": "aniso",
        "threads": 1,
        "datasets": {
            "Aniso": {"source": "raw", "path": str(raw), "splits": {"test": 1, "validation": 1}}
        },
        "training": {"iterations": 4, "validate_every": 2, "checkpoint_every": 2, "log_every": 2},
        "architectures": {
            # receptive field 1 + 2 x (1 + 2 + 1) = 9: a valid margin of 4 pixels
            "dilated": {
                "network": "dilated2d",
                "kwargs": {"features": 4, "dilations": [1, 2, 1], "head": [8]},
            },
            "unet": {
                "network": "unet3d",
                "kwargs": {"features": [4, 8]},
                "inference": {"batch_size": 3},
            },
        },
        "losses": {"ce": {"name": "ce"}},
        "ensembles": {
            "both": {"architectures": ["dilated", "unet"], "losses": ["ce"], "seeds": [1]}
        },
        # two 16 x 16 x 4 patches (3D) or two 13 x 13 slices (2D) per step
        "plan": {"voxels_per_batch": {"3d": 2048, "2d": 338}},
    }


def targets() -> list[str]:
    """The plan and the two teachers (paths relative to the working directory)."""
    return ["results/aniso/Aniso/plans.json"] + [
        f"results/aniso/Aniso/{t}/model.pt" for t in TEACHERS
    ]


@pytest.fixture(scope="module")
def planned_study(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("plan")
    raw = root / "Dataset010_Aniso"
    # 2 x 2 x 8 mm voxels, 8 slices: thick slices
    write_phantom_dataset(
        raw, kind="thorax", cases=5, seed=3, shape=[32, 32, 8], spacing=[2.0, 2.0, 8.0]
    )
    config = anisotropic_study(raw)
    res = snakemake(root, config, *targets())
    assert res.returncode == 0, res.stderr[-4000:]
    return root, config


def test_a_dataset_named_by_its_path_alone_is_planned_from_its_fingerprint(planned_study):
    root, _ = planned_study
    study = root / "results" / "aniso" / "Aniso"
    fingerprint = json.loads((study / "fingerprint.json").read_text())
    assert fingerprint["median_spacing"] == [2.0, 2.0, 8.0]
    assert fingerprint["anisotropy"]["worst_axis"] == 2
    plan = json.loads((study / "plans.json").read_text())
    # 8 mm > 3 x 2 mm and 8 slices x 3 < the in-plane size: the slices keep their 8 mm
    spacing = plan["target_spacing"]
    assert (spacing["value"], spacing["source"]) == ([2.0, 2.0, 8.0], "plan")
    assert "anisotropic" in spacing["reason"]
    unet, dilated = plan["architectures"]["unet"], plan["architectures"]["dilated"]
    # 1024 voxels per patch at equal mm per axis: 32 mm = 16 x 16 x 4 voxels (multiples of 2)
    assert unet["patch"]["value"] == [16, 16, 4] and unet["patch"]["source"] == "plan"
    assert unet["batch_size"]["value"] == 2
    assert unet["inference_batch_size"] == {**unet["inference_batch_size"], "value": 3,
                                            "source": "study file"}  # fmt: skip
    # slices across the 8 mm axis only; 169 pixels: 5 x 5 output + 2 x 4 margin
    assert dilated["orientations"]["value"] == [2]
    assert dilated["patch"]["value"] == [13, 13]
    assert dilated["geometry"]["receptive_field"] == 9
    table = (root / "results" / "aniso" / "tables" / "plan_Aniso.md").read_text()
    assert "| unet.patch | 16 x 16 x 4 | plan |" in table
    # the jobs used the plan: preprocessing, and each network's training
    manifest = json.loads((study / "preprocessed" / "manifest.json").read_text())
    assert manifest["target_spacing"] == [2.0, 2.0, 8.0]
    unet_model = torch.load(study / "teachers/unet-ce/seed1/model.pt", weights_only=True)
    assert unet_model["inference"]["patch"] == [16, 16, 4]  # trained on the planned patch
    dilated_model = torch.load(study / "teachers/dilated-ce/seed1/model.pt", weights_only=True)
    assert dilated_model["inference"]["orientations"] == [2]
    log = (root / "results" / "aniso" / "logs" / "plan" / "Aniso.log").read_text()
    assert "unet.patch = 16 x 16 x 4 (plan:" in log


def test_a_changed_budget_retrains_only_the_networks_whose_plan_changed(planned_study):
    root, config = planned_study
    same = snakemake(root, config, "--dry-run", *targets())
    assert "Nothing to be done" in same.stdout + same.stderr, same.stdout[-2000:]
    config["plan"]["voxels_per_batch"]["2d"] = 2 * 15 * 15  # the 2D patch grows to 15 x 15
    changed = snakemake(root, config, "--dry-run", *targets())
    assert changed.returncode == 0, changed.stderr[-3000:]
    jobs = _job_counts(changed)
    assert jobs.get("plan") == 1 and jobs.get("train_teacher") == 1, jobs
    assert "preprocess" not in jobs and "fingerprint" not in jobs
    out = changed.stdout + changed.stderr
    assert "teachers/dilated-ce/seed1/model.pt" in out
    assert "output: results/aniso/Aniso/teachers/unet-ce" not in out
