"""Through the real Snakemake CLI: a student's temperature decides how its soft labels are
stored, and a changed temperature re-makes them only when the stored form changes."""

from __future__ import annotations

import json

import pytest
from conftest import make_tiny, own_dataset
from test_workflow import _job_counts, snakemake

pytestmark = pytest.mark.workflow

STUDENT = "results/tiny/Own/students/kd/pair/small/seed1/model.pt"


def tiny_config(own, temperature: float) -> dict:
    """One tiny dataset, an ensemble of two tiny U-Nets, one student."""
    return {
        "study": "tiny",
        "threads": 1,
        "training": {"iterations": 2, "batch_size": 2, "validate_every": 0,
                     "checkpoint_every": 2, "log_every": 2, "loader_workers": 0},
        "architectures": {
            "small": {"network": "unet3d", "kwargs": {"features": [2, 4]}, "patch": [16, 16, 16]},
        },
        "ensembles": {"pair": {"architectures": ["small"], "losses": ["ce"], "seeds": [1, 2]}},
        "students": {"kd": {"ensembles": ["pair"], "architecture": "small",
                            "temperature": temperature}},
        "datasets": {"Own": own_dataset(own)},
    }  # fmt: skip


def test_temperature_changes_remake_soft_labels_only_when_their_form_changes(tmp_path):
    own = make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=4)
    res = snakemake(tmp_path, tiny_config(own, 2.0), STUDENT)
    assert res.returncode == 0, res.stderr[-4000:]
    soft = tmp_path / "results" / "tiny" / "Own" / "ensembles" / "pair" / "soft_labels"
    summary = json.loads((soft / "soft_labels.json").read_text())
    assert summary["storage"] == "float16_log_members" and summary["groups"] == 2
    assert max(summary["max_target_error"]["members"].values()) < 1e-2
    # T = 2 -> 4: the same stored form; the student re-trains, the soft labels stay
    jobs = _job_counts(snakemake(tmp_path, tiny_config(own, 4.0), STUDENT, "--dry-run"))
    assert jobs.get("train_student") == 1 and "soft_labels" not in jobs, jobs
    # T = 2 -> 1: 8-bit mean probabilities; soft labels re-made, the student re-trains
    jobs = _job_counts(snakemake(tmp_path, tiny_config(own, 1.0), STUDENT, "--dry-run"))
    assert jobs.get("soft_labels") == 1 and jobs.get("train_student") == 1, jobs
    assert "train_teacher" not in jobs
