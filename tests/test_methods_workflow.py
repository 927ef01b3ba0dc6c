"""Every student method end to end through the real Snakemake CLI on a tiny phantom study."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from conftest import make_tiny
from test_workflow import _job_counts, snakemake

pytestmark = pytest.mark.workflow


def methods_config(own) -> dict:
    """One tiny dataset, a large and a small U-Net, every method once."""
    return {
        "study": "methods",
        "threads": 1,
        "training": {"iterations": 6, "batch_size": 2, "validate_every": 3,
                     "checkpoint_every": 3, "log_every": 3},
        "architectures": {
            "large": {"network": "unet3d", "kwargs": {"features": [8, 16]}, "patch": [16, 16, 16]},
            "small": {"network": "unet3d", "kwargs": {"features": [2, 4]}, "patch": [16, 16, 16]},
        },
        "losses": {"ce": {"name": "ce"}},
        "ensembles": {
            "big": {"architectures": ["large"], "losses": ["ce"], "seeds": [1]},
            "limit": {"architectures": ["small"], "losses": ["ce"], "seeds": [1], "subsets": 2},
        },
        "students": {
            "kd": {"ensembles": ["big"], "architecture": "small", "patch_source": "ensemble",
                   "uncertain_patches": 0.5, "uncertain_entropy": 0.05},
            "adaptive": {"method": "adaptive", "ensembles": ["limit"], "architecture": "small",
                         "tau": 0.5},
            "feature": {"method": "feature", "ensembles": ["big"], "architecture": "small"},
            "online": {"method": "online", "teacher": {"architecture": "large", "loss": "ce"},
                       "architecture": "small"},
            "ta": {"method": "assistant", "ensembles": ["big"], "architecture": "small"},
        },
        "baselines": {"architectures": ["small"], "loss": "ce", "seeds": [1], "budgets": [1, 2]},
        "datasets": {"Own": {"source": "raw", "path": str(own),
                             "preprocess": {"target_spacing": [6, 6, 6]},
                             "splits": {"test": 2, "validation": 1}}},
    }  # fmt: skip


STUDENTS = [  # in entry order (the study file is written with sorted keys)
    "students/adaptive/limit/small/seed1",
    "students/feature/big/small/seed1",
    "students/kd/big/small/seed1",
    "students/online/large-ce/small/seed1",
    "students/ta/big/ta_assistant/seed1",
    "students/ta/big/small/seed1",
]


def test_every_method_trains_end_to_end(tmp_path):
    own = make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=7)
    config = methods_config(own)
    res = snakemake(tmp_path, config)
    assert res.returncode == 0, res.stderr[-4000:]
    study = tmp_path / "results" / "methods"
    models = pd.read_csv(study / "tables" / "study_Own.csv")["model"].tolist()
    teachers = ["teachers/large-ce/seed1", "teachers/small-ce/subset1of2/seed1",
                "teachers/small-ce/subset2of2/seed1"]  # fmt: skip
    online = ["online/online/large-ce/small/seed1/teacher",
              "online/online/large-ce/small/seed1/student"]  # fmt: skip
    baselines = ["baselines/small-ce/seed1", "baselines/small-ce/x2/seed1"]
    assert models == [*teachers, "ensembles/limit", *STUDENTS, *online, *baselines]
    # the baseline of online KD's budget (phase 1 + phase 2) trained twice the iterations
    long = torch.load(study / "Own" / baselines[1] / "model.pt", weights_only=True)
    assert long["iterations"] == 12
    assert torch.load(study / "Own" / baselines[0] / "model.pt", weights_only=True)[
        "iterations"] == 6  # fmt: skip
    # limit-trained teachers: disjoint training cases that together are the training split
    splits = json.loads((study / "Own" / "splits.json").read_text())
    subsets = [
        torch.load(study / "Own" / t / "model.pt", weights_only=True)["training_cases"]
        for t in teachers[1:]
    ]
    assert not set(subsets[0]) & set(subsets[1])
    assert sorted(subsets[0] + subsets[1]) == splits["train"]
    # the derived assistant sits between teacher and student (geometric mean width)
    widths = {
        m: torch.load(study / "Own" / m / "model.pt", weights_only=True)["architecture"]["kwargs"]
        for m in ("teachers/large-ce/seed1", STUDENTS[4], STUDENTS[5])
    }
    assert [w["features"] for w in widths.values()] == [[8, 16], [4, 8], [2, 4]]
    # feature KD saves the student alone (adapters trained with it, not stored)
    feature = torch.load(study / "Own" / STUDENTS[1] / "model.pt", weights_only=True)
    assert not any("adapter" in k for k in feature["state_dict"])
    assert feature["distillation"]["method"] == "feature"
    # online: phase 2 started from the phase-1 student
    final = torch.load(study / "Own" / STUDENTS[3] / "model.pt", weights_only=True)
    assert final["distillation"]["init"].endswith(
        "online/online/large-ce/small/seed1/student/model.pt"
    )
    # the kd student's patches: placed by the ensemble's arg-max, half around uncertain voxels
    kd = torch.load(study / "Own" / STUDENTS[2] / "model.pt", weights_only=True)
    assert kd["distillation"]["patch_source"] == "ensemble"
    log = (study / "logs" / "train" / "Own" / STUDENTS[2]).with_suffix(".log").read_text()
    assert "class-balanced by the ensemble's arg-max; 50% around" in log
    statistics = pd.read_csv(study / "tables" / "statistics_Own.csv")
    kinds = set(statistics["comparison"])
    assert {"student vs baseline", "student vs student", "student vs teacher",
            "student vs ensemble limit"} <= kinds  # fmt: skip
    versus = statistics[statistics["comparison"] == "student vs baseline"]
    assert set(versus[versus["model_a"] == STUDENTS[3]]["model_b"]) == {baselines[1]}
    assert set(versus[versus["model_a"] == STUDENTS[2]]["model_b"]) == {baselines[0]}
    students = pd.read_csv(study / "tables" / "students_Own.csv")
    assert students["model"].tolist() == [*[s for s in STUDENTS if "ta_assistant" not in s],
                                          *baselines]  # fmt: skip
    assert "adaptive" in (study / "tables" / "students_Own.md").read_text()

    # a method setting re-trains that student and what depends on it, nothing else
    config["students"]["adaptive"]["tau"] = 2.0
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("train_student") == 1 and "train_subset_teacher" not in jobs
    assert "soft_labels" not in jobs and "train_online" not in jobs
    # online KD's phase-2 start (init) re-trains phase 2 only, not the joint phase 1
    config["students"]["online"]["init"] = "scratch"
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("train_student") == 2 and "train_online" not in jobs
    # the doubling check covers every method's students (online KD's phase 2 too), the
    # limit-trained teachers, and the baselines: budget 1's doubled run is the study's own x2
    # baseline (no job), x2's is a baseline of 4x the iterations
    config = methods_config(own)
    config["doubling_check"] = {"networks": ["teachers", "students", "baselines"]}
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("train_doubled_teacher") == 1, jobs
    assert jobs.get("train_doubled_subset_teacher") == 2 and jobs.get("train_doubled_student") == 6
    assert jobs.get("train_doubled_baseline") == 1 and jobs.get("training_table") == 1
    assert not {"train_teacher", "train_subset_teacher", "train_student", "train_online"} & set(
        jobs
    )
    dry = snakemake(tmp_path, config, "--dry-run")
    assert "Own/doubled/baselines/small-ce/x4/seed1/model.pt" in dry.stdout + dry.stderr
