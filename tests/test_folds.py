"""K-fold cross-validation: fold splits at patient level, and a phantom study with
``splits: {folds: 3}`` through the real Snakemake CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import make_tiny
from test_workflow import _job_counts, snakemake

from kdseg.data.splits import fold_splits
from kdseg.errors import ConfigError

CASES = [f"patient{p:02d}_{frame}" for p in range(1, 8) for frame in ("ED", "ES")]
GROUP = r"^(patient\d+)_"


def test_every_patient_is_tested_by_exactly_one_fold_and_never_trained_on_there():
    splits = [fold_splits(CASES, 0, 3, k, 1, GROUP) for k in (1, 2, 3)]
    tested = [c for s in splits for c in s["test"]]
    assert sorted(tested) == sorted(CASES)  # every case once
    for s in splits:
        assert not set(s["test"]) & (set(s["train"]) | set(s["validation"]))
        assert sorted(s["test"] + s["train"] + s["validation"]) == sorted(CASES)
        assert len(s["patients"]["validation"]) == 1
        for part in ("test", "train", "validation"):  # both frames of a patient together
            assert {c.replace("_ED", "_ES") for c in s[part]} == {
                c for c in s[part] if c.endswith("_ES")
            } | {c.replace("_ED", "_ES") for c in s[part] if c.endswith("_ED")}
    sizes = sorted(len(s["patients"]["test"]) for s in splits)
    assert sizes == [2, 2, 3]  # 7 patients dealt in turn
    whole = fold_splits(CASES, 0, 3, None, 1, GROUP)
    assert whole["test"] == sorted(CASES) and whole["fold_of"] == splits[0]["fold_of"]


def test_folds_follow_the_seed_and_strata():
    metadata = {c: {"site": "A" if int(c[7:9]) <= 4 else "B"} for c in CASES}
    splits = [fold_splits(CASES, 5, 2, k, 0, GROUP, metadata, "site") for k in (1, 2)]
    for s in splits:  # each site in each fold's test set
        assert {metadata[c]["site"] for c in s["test"]} == {"A", "B"}
    assert fold_splits(CASES, 5, 2, 1, 0, GROUP) != fold_splits(CASES, 6, 2, 1, 0, GROUP)


def test_more_folds_than_patients_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"splits.folds=8: needs 2 to 7 folds"):
        fold_splits(CASES, 0, 8, 1, 1, GROUP)


@pytest.mark.workflow
def test_a_cross_validated_study_predicts_every_case_once_by_networks_that_never_saw_it(
    tmp_path,
):
    own = make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=6)
    config = {
        "study": "cv",
        "threads": 1,
        "training": {"iterations": 4, "batch_size": 2, "validate_every": 2,
                     "checkpoint_every": 2, "log_every": 2},
        "architectures": {
            "unet": {"network": "unet3d", "kwargs": {"features": [2, 4]}, "patch": [16, 16, 16]}
        },
        "losses": {"ce": {"name": "ce"}},
        "ensembles": {"uniform": {"architectures": ["unet"], "losses": ["ce"], "seeds": [1, 2]}},
        "students": {"kd": {"ensembles": ["uniform"], "architecture": "unet"}},
        "baselines": {"architectures": ["unet"], "loss": "ce", "seeds": [1]},
        "datasets": {"Own": {"source": "raw", "path": str(own),
                             "preprocess": {"target_spacing": [6, 6, 6]},
                             "splits": {"folds": 3, "validation": 1}}},
    }  # fmt: skip
    dry = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert dry.get("splits") == 4 and dry.get("preprocess") == 3, dry  # the study + 3 folds
    res = snakemake(tmp_path, config)
    assert res.returncode == 0, res.stderr[-4000:]
    study = tmp_path / "results" / "cv" / "Own"
    cases = sorted(p.name.removesuffix("_0000.nii.gz") for p in (own / "imagesTr").iterdir())
    tested = []
    for k in (1, 2, 3):
        fold = study / f"fold{k}"
        manifest = json.loads((fold / "preprocessed" / "manifest.json").read_text())
        split = {e["case"]: e["split"] for e in manifest["cases"]}
        test = sorted(c for c, s in split.items() if s == "test")
        tested += test
        # the fold's networks and soft labels never saw its test cases
        soft = json.loads((fold / "ensembles/uniform/soft_labels/soft_labels.json").read_text())
        softened = {entry["case"] for entry in soft["cases"]}
        assert softened == {c for c, s in split.items() if s != "test"}
        for model in ("teachers/unet-ce/seed1", "students/kd/uniform/unet/seed1"):
            timing = json.loads((fold / "predictions" / model / "inference.json").read_text())
            assert sorted(timing["seconds_per_case"]) == test
    assert sorted(tested) == cases  # every case tested by exactly one fold
    for model in ("teachers/unet-ce/seed2", "ensembles/uniform", "baselines/unet-ce/seed1"):
        pooled = json.loads((study / "predictions" / model / "inference.json").read_text())
        assert sorted(pooled["seconds_per_case"]) == cases
        metrics = pd.read_csv(study / "metrics" / f"{model}.csv")
        assert sorted(set(metrics["case"])) == cases
    statistics = pd.read_csv(tmp_path / "results" / "cv" / "tables" / "statistics_Own.csv")
    assert set(statistics["n"]) == {6}  # one pair per patient, over all patients
    training = pd.read_csv(tmp_path / "results" / "cv" / "tables" / "training_Own.csv")
    assert "fold2/students/kd/uniform/unet/seed1" in set(training["model"])
    rows = pd.read_csv(tmp_path / "results" / "cv" / "tables" / "study_Own.csv")["model"]
    assert "students/kd/uniform/unet/seed1" in set(rows)
    again = snakemake(tmp_path, config, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr, _job_counts(again)
