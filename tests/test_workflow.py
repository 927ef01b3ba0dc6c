"""The real Snakemake CLI on tiny studies: data stages, reruns, bad config, bad raw data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, TINY, make_tiny, own_dataset

from kdseg.data.nifti import write_volume

pytestmark = pytest.mark.workflow
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake_command(workdir: Path, config: dict | Path, *args: str) -> list[str]:
    """The command running the project's workflow with a study file in ``workdir`` (a dict is
    written to ``workdir/study.yaml``)."""
    if isinstance(config, dict):
        path = workdir / "study.yaml"
        path.write_text(yaml.safe_dump(config))
    else:
        path = config
    return [
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


def snakemake(workdir: Path, config: dict | Path, *args: str) -> subprocess.CompletedProcess:
    """Run the project's workflow with a study file in ``workdir``."""
    cmd = snakemake_command(workdir, config, *args)
    return subprocess.run(cmd, capture_output=True, text=True)


def reordered(value):
    """``value`` with every mapping's keys in reverse order (lists unchanged)."""
    if isinstance(value, dict):
        return {k: reordered(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


def write_reordered(workdir: Path, config: dict) -> Path:
    """The study file with its keys in reverse order (``yaml.safe_dump`` sorts them)."""
    path = workdir / "reordered.yaml"
    path.write_text(yaml.safe_dump(reordered(config), sort_keys=False))
    return path


def tiny_config(raw_path: Path | None = None) -> dict:
    datasets = {
        "Heart": {
            "source": "phantom",
            "phantom": {"kind": "cardiac", "cases": 3, "seed": 4, **TINY["cardiac"]},
            "splits": {"test": 1, "validation": 0, "group_pattern": r"^(patient\d+)_"},
        }
    }
    if raw_path is not None:
        datasets["Own"] = own_dataset(raw_path)
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
    # the same study with its keys in another order runs no job
    reorder = snakemake(tmp_path, write_reordered(tmp_path, config), "--dry-run")
    assert "Nothing to be done" in reorder.stdout + reorder.stderr, reorder.stdout[-2000:]

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
            "config key 'datasets.Own.path': /nowhere does not exist",
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


def test_duplicate_key_in_study_file_stops_before_any_job(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(tiny_config()) + "threads: 2\n")  # threads: 1 above
    res = snakemake(tmp_path, study, "--dry-run")
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "config key 'threads' given twice in one mapping" in out, out[-2000:]
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


def teacher_config(own: Path) -> dict:
    """Two tiny datasets, two tiny architectures x two losses, a uniform set of two seeds."""
    config = tiny_config(own)
    config["datasets"]["Own"]["splits"] = {"test": 1, "validation": 1}
    config["datasets"]["Heart"]["architectures"] = {"unet": {"patch": [16, 16, 4]}}
    config["datasets"]["Heart"]["architectures"]["dilated"] = {"orientations": [2]}
    config["training"] = {
        "iterations": 8,
        "batch_size": 2,
        "validate_every": 4,
        "checkpoint_every": 4,
        "log_every": 4,
    }
    config["architectures"] = {
        "dilated": {
            "network": "dilated2d",
            "kwargs": {"features": 4, "dilations": [1, 2, 1], "head": [8]},
            "patch": [13, 13],
        },
        "unet": {"network": "unet3d", "kwargs": {"features": [4, 8]}, "patch": [16, 16, 16]},
    }
    config["ensembles"] = {
        "diverse": {"architectures": ["dilated", "unet"], "losses": ["ce", "dice"], "seeds": [1]},
        "uniform": {"architectures": ["unet"], "losses": ["ce"], "seeds": [1, 2]},
    }
    config["architectures"]["dilated"]["training"] = {"iterations": 12}  # per architecture
    config["students"] = {"kd": {"ensembles": ["diverse", "uniform"], "architecture": "unet",
                                 "soft_loss": "kl", "soft_dice_weight": 1.0}}  # fmt: skip
    config["baselines"] = {"architectures": ["unet"], "loss": "ce", "seeds": [1]}
    return config


def _job_counts(res: subprocess.CompletedProcess) -> dict[str, int]:
    """Snakemake's job-stats table (stdout in dry runs, stderr in real runs)."""
    return {
        line.split()[0]: int(line.split()[1])
        for line in (res.stdout + res.stderr).splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }


def test_teachers_train_predict_evaluate_and_rerun_only_what_changed(tmp_path):
    own = make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=5)
    config = teacher_config(own)
    res = snakemake(tmp_path, config)
    assert res.returncode == 0, res.stderr[-4000:]
    study = tmp_path / "results" / "tiny"
    teachers = ["dilated-ce/seed1", "dilated-dice/seed1", "unet-ce/seed1", "unet-ce/seed2",
                "unet-dice/seed1"]  # fmt: skip
    for ds in ("Own", "Heart"):
        table = pd.read_csv(study / "tables" / f"teachers_{ds}.csv")
        assert sorted(table["model"]) == [f"teachers/{t}" for t in teachers]
        assert table["mean_dice"].between(0, 1).all() and (table["parameters"] > 0).all()
        assert (table["seconds_per_case"] > 0).all()
        assert "| model | Dice" in (study / "tables" / f"teachers_{ds}.md").read_text()
        for t in teachers:
            assert (study / ds / "teachers" / t / "model.pt").exists()
            assert (study / ds / "teachers" / t / "training.png").exists()
            assert not (study / ds / "teachers" / t / "checkpoint.pt").exists()
    models = pd.read_csv(study / "tables" / "study_Own.csv")["model"].tolist()
    assert models == [f"teachers/{t}" for t in teachers] + [
        "ensembles/diverse", "ensembles/uniform", "students/kd/diverse/unet/seed1",
        "students/kd/uniform/unet/seed1", "baselines/unet-ce/seed1",
    ]  # fmt: skip
    # the baseline is the same network as teacher unet-ce seed 1: reused, not trained again
    baseline = study / "Own" / "baselines" / "unet-ce" / "seed1"
    teacher = study / "Own" / "teachers" / "unet-ce" / "seed1"
    assert (baseline / "model.pt").read_bytes() == (teacher / "model.pt").read_bytes()
    assert (baseline / "training.csv").read_text() == (teacher / "training.csv").read_text()
    log = (study / "logs" / "train" / "Own" / "baselines" / "unet-ce" / "seed1.log").read_text()
    assert "reused" in log and "iter " not in log
    # every trained network's curve, judged by the curve rule
    training = pd.read_csv(study / "tables" / "training_Own.csv")
    assert sorted(training["model"]) == sorted(
        [f"teachers/{t}" for t in teachers] + ["students/kd/diverse/unet/seed1",
         "students/kd/uniform/unet/seed1", "baselines/unet-ce/seed1"]
    )  # fmt: skip
    assert {"validation_dice", "validation_dice_heart", "last_quarter_gain", "settled"} <= set(
        training.columns
    )
    assert training["last_quarter_gain"].notna().all()  # validated at 4 and 8 of 8 iterations
    assert "settled" in (study / "tables" / "training_Own.md").read_text()
    iterations = training.set_index("model")["iterations"]
    assert iterations["teachers/dilated-ce/seed1"] == 12
    assert iterations["teachers/unet-ce/seed1"] == 8
    student = torch.load(study / "Own" / "students/kd/diverse/unet/seed1/model.pt",
                         weights_only=True)  # fmt: skip
    assert student["distillation"]["soft_dice_weight"] == 1.0
    assert student["distillation"]["soft_loss"] == "kl"
    statistics = pd.read_csv(study / "tables" / "statistics_Own.csv")
    assert {"student vs baseline", "ensemble diverse vs member"} <= set(statistics["comparison"])
    assert set(statistics["unit"]) == {"patient"} and set(statistics["n"]) == {1}
    heart = pd.read_csv(study / "tables" / "statistics_Heart.csv")  # ED + ES of one patient
    assert set(heart["unit"]) == {"patient"} and set(heart["n"]) == {1}
    assert statistics["p"].isna().all()  # one test case: no test can be significant
    # the results name the networks that did not settle, as the training table judged them
    # (these 8-12 iteration curves may all settle; test_report_outputs.py has one that does not)
    unsettled = set(training.loc[~training["settled"], "model"])
    assert "unsettled" in statistics.columns
    for _, row in statistics.iterrows():
        named = set(row["unsettled"].split("; ")) if isinstance(row["unsettled"], str) else set()
        assert named <= unsettled and {row["model_a"], row["model_b"]} & unsettled <= named
    study_rows = pd.read_csv(study / "tables" / "study_Own.csv").set_index("model")
    assert "unsettled" in study_rows.columns
    for model in unsettled:
        assert study_rows.loc[model, "unsettled"] == model
    assert "did not settle" in (study / "tables" / "study_Own.md").read_text()
    assert "no test can reach p < 0.05" in (study / "tables" / "study_Own.md").read_text()
    assert r"\begin{tabular}" in (study / "tables" / "study_Own.tex").read_text()
    for figure in ("dice_boxplots", "footprint", "qualitative", "calibration"):
        assert (study / "figures" / f"{figure}_Own.png").stat().st_size > 5000, figure
    ece = json.loads((study / "tables" / "calibration_Own.json").read_text())["ece"]
    assert set(ece) == set(models[5:]) and all(0 <= v <= 1 for v in ece.values())
    ensemble = json.loads(
        (study / "Own" / "predictions" / "ensembles" / "diverse" / "inference.json").read_text()
    )
    assert ensemble["members"] == 4 and ensemble["parameters"] > 4 * 1000
    soft = json.loads(
        (study / "Own" / "ensembles" / "uniform" / "soft_labels" / "soft_labels.json").read_text()
    )
    assert len(soft["cases"]) == 4  # 3 training + 1 validation case
    metrics = pd.read_csv(study / "Own" / "metrics" / "teachers" / "unet-ce" / "seed1.csv")
    assert set(metrics["structure"]) == {"esophagus", "heart", "trachea", "aorta"}
    assert {"dice", "iou", "hd95", "assd", "accuracy", "kappa"} <= set(metrics.columns)
    assert metrics[["dice", "hd95", "assd"]].notna().all().all()
    # predictions are on the original geometry: same shape and affine as the raw image
    pred_dir = study / "Own" / "predictions" / "teachers" / "unet-ce" / "seed1"
    case = metrics["case"].iloc[0]
    pred = nib.load(pred_dir / f"{case}.nii.gz")
    raw = nib.load(own / "imagesTr" / f"{case}_0000.nii.gz")
    assert pred.shape == raw.shape and np.allclose(pred.affine, raw.affine)
    probs = np.load(pred_dir / f"{case}_probabilities.npy")
    assert probs.dtype == np.float16 and probs.shape[0] == 5

    assert "Nothing to be done" in (lambda r: r.stdout + r.stderr)(
        snakemake(tmp_path, config, "--dry-run")
    )
    # keys in another order (every mapping reversed): no job, training included
    reorder = snakemake(tmp_path, write_reordered(tmp_path, config), "--dry-run")
    assert "Nothing to be done" in reorder.stdout + reorder.stderr, _job_counts(reorder)
    # settings that do not shape the weights re-run nothing (issue 31: they re-trained all)
    runtime = teacher_config(own)
    runtime["training"].update(log_every=7, checkpoint_every=3, loader_workers=0, device="cpu")
    quiet = snakemake(tmp_path, runtime, "--dry-run")
    assert "Nothing to be done" in quiet.stdout + quiet.stderr, _job_counts(quiet)
    # a changed Dice-loss setting re-trains the Dice teachers and what follows, nothing else
    config["losses"] = {"ce": {"name": "ce"}, "dice": {"name": "dice", "include_background": True}}
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("train_teacher") == 4 and jobs.get("predict") == 4 + 2, jobs  # + students
    assert jobs.get("teacher_table") == 2 and "preprocess" not in jobs
    assert jobs.get("predict_ensemble") == 2 and jobs.get("train_student") == 2  # diverse only
    # a changed student setting re-trains the students only: not teachers, ensembles, baselines
    config = teacher_config(own)
    config["students"]["kd"]["hard_weight"] = 0.2
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("train_student") == 4 and "train_teacher" not in jobs, jobs
    assert (
        "soft_labels" not in jobs
        and "predict_ensemble" not in jobs
        and "train_baseline" not in jobs
    )
    # T > 1 needs soft labels stored as float16 log-probabilities: those are re-made too
    config["students"]["kd"]["temperature"] = 2.0
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("soft_labels") == 4 and jobs.get("train_student") == 4, jobs
    assert "predict_ensemble" not in jobs and "train_teacher" not in jobs
    # a per-dataset architecture change re-trains that dataset's teachers of that architecture
    config = teacher_config(own)
    config["datasets"]["Heart"]["architectures"]["unet"]["patch"] = [8, 8, 4]
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("train_teacher") == 3, jobs
    # a changed inference setting re-predicts (and re-distils), it never re-trains a teacher
    config = teacher_config(own)
    config["datasets"]["Heart"]["architectures"]["unet"]["inference"] = {"overlap": 0.25}
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert "train_teacher" not in jobs and "train_baseline" not in jobs, jobs
    assert jobs.get("predict") == 3 + 1 + 2  # Heart's unet teachers, baseline, students
    assert jobs.get("predict_ensemble") == 2 and jobs.get("soft_labels") == 2
    assert jobs.get("train_student") == 2
    # the doubling check trains the named networks again with twice the iterations, nothing
    # else; a baseline equal to a teacher reuses the doubled teacher
    config = teacher_config(own)
    config["doubling_check"] = {"networks": ["teachers", "students", "baselines"]}
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("train_doubled_teacher") == 10 and jobs.get("train_doubled_student") == 4
    assert not {"train_doubled_baseline", "train_teacher", "train_student"} & set(jobs), jobs
    config["doubling_check"] = {"networks": ["students", "baselines"]}
    res = snakemake(tmp_path, config)
    assert res.returncode == 0, res.stderr[-4000:]
    training = pd.read_csv(study / "tables" / "training_Own.csv").set_index("model")
    checked = training[training["passes_doubling"].notna()]
    assert sorted(checked.index) == ["baselines/unet-ce/seed1", "students/kd/diverse/unet/seed1",
                                     "students/kd/uniform/unet/seed1"]  # fmt: skip
    assert (checked["doubled_iterations"] == 2 * checked["iterations"]).all()
    gain = checked["doubled_validation_dice"] - checked["validation_dice"]
    assert (checked["doubling_gain"] - gain).abs().max() < 1e-9
    assert (study / "Own" / "doubled/baselines/unet-ce/x2/seed1/model.pt").exists()
    assert "doubling check: 3 networks" in (study / "tables" / "training_Own.md").read_text()
    # a network that failed the doubling check is named by the comparisons that involve it
    failed = set(checked.index[~checked["passes_doubling"].astype(bool)])
    statistics = pd.read_csv(study / "tables" / "statistics_Own.csv")
    named = set("; ".join(statistics["unsettled"].dropna()).split("; ")) - {""}
    assert failed <= named
    # every documented output is a target: one that went missing (a killed forced re-run) is
    # made again, though everything after it exists
    shutil.rmtree(study / "Own" / "ensembles" / "uniform" / "soft_labels")
    shutil.rmtree(study / "Own" / "predictions" / "teachers" / "unet-ce" / "seed2")
    jobs = _job_counts(snakemake(tmp_path, config, "--dry-run"))
    assert jobs.get("soft_labels") == 1 and jobs.get("predict", 0) >= 1, jobs
    assert "train_teacher" not in jobs and "preprocess" not in jobs, jobs


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["ensembles"]["diverse"]["architectures"].append("vnet"),
            "config key 'ensembles.diverse.architectures': 'vnet' is not defined",
        ),
        (
            lambda c: c["architectures"]["unet"].update(patch=[16, 16]),
            "unet3d is a 3D network and needs 3 patch sizes",
        ),
        (
            lambda c: c["training"].update(optimiser={"name": "adam"}),
            "config key 'training.optimiser': unknown key",
        ),
        (
            lambda c: c["datasets"]["Heart"]["training"].update(iterations=0),
            "config key 'datasets.Heart.training.iterations': 0 is less than the minimum of 1",
        ),
        (
            lambda c: c["architectures"]["unet"].update(network="vnet"),
            "config key 'architectures.unet' (dataset Heart): architecture 'vnet': unknown",
        ),
        (
            lambda c: c["training"].update(device="cuda"),
            "config key 'training.device': 'cuda' but this machine has no usable CUDA GPU",
        ),
        (
            lambda c: c["datasets"]["Own"]["splits"].update(test=9),
            "config key 'datasets.Own.splits': splits.test=9 asks for 9 patients but only 5",
        ),
    ],
)
def test_bad_teacher_config_stops_before_any_job(tmp_path, edit, message):
    config = teacher_config(make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=5))
    config["datasets"]["Heart"]["training"] = {}
    edit(config)
    res = snakemake(tmp_path, config, "--dry-run")
    assert res.returncode != 0
    assert message in res.stdout + res.stderr, (res.stdout + res.stderr)[-2000:]


def test_subsets_of_the_study_run_to_their_tables(tmp_path):
    """Teachers only (a one-member ensemble), then ensembles and a baseline without students:
    each runs to its statistics, tables and figures."""
    own = make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=5)
    config = teacher_config(own)
    del config["datasets"]["Heart"]
    config["architectures"].pop("dilated")
    config["ensembles"] = {"solo": {"architectures": ["unet"], "losses": ["ce"], "seeds": [1]}}
    config["students"], config["baselines"] = {}, {}
    res = snakemake(tmp_path, config)
    assert res.returncode == 0, res.stderr[-4000:]
    tables, figures = tmp_path / "results/tiny/tables", tmp_path / "results/tiny/figures"
    assert pd.read_csv(tables / "study_Own.csv")["model"].tolist() == ["teachers/unet-ce/seed1"]
    statistics = pd.read_csv(tables / "statistics_Own.csv")
    assert len(statistics) == 0 and "structure" in statistics.columns
    for figure in ("dice_boxplots", "footprint", "qualitative", "calibration"):
        assert (figures / f"{figure}_Own.png").stat().st_size > 5000, figure
    assert not (tables / "students_Own.csv").exists()

    config["ensembles"]["pair"] = {"architectures": ["unet"], "losses": ["ce", "dice"],
                                   "seeds": [1]}  # fmt: skip
    config["baselines"] = {"architectures": ["unet"], "loss": "dice", "seeds": [2]}
    res = snakemake(tmp_path, config)
    assert res.returncode == 0, res.stderr[-4000:]
    assert _job_counts(res).get("train_teacher") == 1  # unet-dice; unet-ce is reused
    models = pd.read_csv(tables / "study_Own.csv")["model"].tolist()
    assert models == ["teachers/unet-ce/seed1", "teachers/unet-dice/seed1", "ensembles/pair",
                      "baselines/unet-dice/seed2"]  # fmt: skip
    statistics = pd.read_csv(tables / "statistics_Own.csv")
    assert set(statistics["comparison"]) == {"ensemble pair vs member"}


def test_a_patch_far_larger_than_the_images_stops_training_in_one_line(tmp_path):
    own = make_tiny(tmp_path / "Dataset007_Own", "thorax", cases=5)
    config = teacher_config(own)
    del config["datasets"]["Heart"]
    config["architectures"].pop("dilated")
    config["architectures"]["unet"]["patch"] = [256, 256, 256]
    config["ensembles"] = {"solo": {"architectures": ["unet"], "losses": ["ce"], "seeds": [1]}}
    config["students"], config["baselines"] = {}, {}
    res = snakemake(tmp_path, config)
    assert res.returncode != 0
    log = (tmp_path / "results/tiny/logs/train/Own/teachers/unet-ce/seed1.log").read_text()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "patch [256, 256, 256]: its output region" in errors[0], log
    assert not (tmp_path / "results/tiny/Own/teachers/unet-ce/seed1/model.pt").exists()


def test_a_label_that_occurs_in_no_case_stops_validation_unless_allowed(tmp_path):
    own = make_tiny(tmp_path / "Dataset008_Absent", "thorax", cases=4)
    meta = json.loads((own / "dataset.json").read_text())
    meta["labels"]["lesion"] = 5  # declared, in no case
    (own / "dataset.json").write_text(json.dumps(meta))
    config = tiny_config(own)
    del config["datasets"]["Heart"]
    report = "results/tiny/Own/raw_report.json"
    res = snakemake(tmp_path, config, report)
    assert res.returncode != 0
    assert "label 'lesion' (value 5) occurs in no case" in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / report).exists()
    config["datasets"]["Own"]["allow_absent_labels"] = ["lesion"]
    res = snakemake(tmp_path, config, report)
    assert res.returncode == 0, res.stderr[-2000:]
