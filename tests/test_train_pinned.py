"""Tiny training runs' final weights (teachers and every student trainer) and sampled
batches, pinned to the values the code before the split of the training package gave
(2026-12-07, torch on a 2-core x86 VM, no GPU): a refactoring of the training code must leave
every weight and every patch bit-identical. Floating-point results may differ on another CPU
or torch version; the weights' hashes are then not compared (the batches' are)."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from kdseg.models.model_file import read_model_file
from kdseg.train.segmentation import build_sampler, train_segmentation_model

REPO = Path(__file__).resolve().parents[1]
PINNED_TORCH = "2.13.0+cpu"

RUNS = {
    "unet3d-authors": (
        {"network": "unet3d", "kwargs": {"features": [4, 8]}, "patch": [16, 16, 16]},
        {
            "iterations": 6,
            "batch_size": 2,
            "validate_every": 3,
            "checkpoint_every": 2,
            "weights": "best",
            "loader_workers": 0,
        },
    ),
    "dilated2d-balanced-uniform": (
        {
            "network": "dilated2d",
            "kwargs": {"features": 4, "dilations": [1, 2, 1], "head": [8]},
            "patch": [17, 17],
            "orientations": [0, 2],
        },
        {
            "iterations": 5,
            "batch_size": 3,
            "padding": "zeros",
            "loader_workers": 0,
            "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
            "schedule": {"name": "poly", "power": 0.9},
            "sampling": {"rule": "balanced", "max_locations": 50},
            "augmentation": {
                "rotation": "uniform",
                "rotate_prob": 1.0,
                "intensity_scale": 0.1,
                "intensity_prob": 0.5,
                "noise_std": 0.1,
                "noise_prob": 0.5,
            },
        },
    ),
}
WEIGHTS = {
    "unet3d-authors": "8cb7f4208c21d5bb",
    "dilated2d-balanced-uniform": "9b7cd2a72d9928ed",
}
BATCHES = {
    "unet3d-authors": "05351d3601ff8d99",
    "dilated2d-balanced-uniform": "87998b0893182157",
}


def digest(arrays: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        value = arrays[key]
        value = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        h.update(key.encode() + str(value.dtype).encode() + np.ascontiguousarray(value).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("run", sorted(RUNS))
def test_sampled_batches_are_those_of_today(tiny_preprocessed, run):
    from kdseg.data.preprocess import load_manifest
    from kdseg.nets import build_network

    arch, training = RUNS[run]
    manifest = load_manifest(tiny_preprocessed)
    model = build_network(arch["network"], 1, 5, **arch["kwargs"])
    sampler = build_sampler(tiny_preprocessed, manifest, arch, training, model, seed=3)
    batches = {f"{i}.{k}": v for i in range(4) for k, v in sampler.batch(i).items()}
    assert digest(batches) == BATCHES[run]


@pytest.mark.parametrize("run", sorted(RUNS))
def test_trained_weights_are_those_of_today(tiny_preprocessed, tmp_path, run):
    if torch.__version__ != PINNED_TORCH:
        pytest.skip(f"weights pinned with torch {PINNED_TORCH}, not {torch.__version__}")
    arch, training = RUNS[run]
    out = tmp_path
    train_segmentation_model(
        tiny_preprocessed, out / "model.pt", out / "h.csv", out / "h.png", out / "ckpt.pt",
        arch, {"name": "ce+dice"}, {**training, "device": "cpu"}, seed=3, name=run,
    )  # fmt: skip
    assert digest(read_model_file(out / "model.pt")["state_dict"]) == WEIGHTS[run]


STUDENTS = {"kd": "a0debc2ec50345c0", "feature": "fd2d9f4b30f1ed00", "adaptive": "2b6b70250e97881f",
            "online-student": "314b832d3bda4ded", "online-teacher": "d5ad1bc73621d2ba"}  # fmt: skip


def _student_runs(pre, tmp_path) -> dict[str, str]:
    """Weights' hashes of tiny KD, feature, adaptive and online KD students (the kd-methods
    study's method settings) trained from two tiny teachers' soft labels."""
    from kdseg import config as kdcfg
    from kdseg.config.students import phase_settings
    from kdseg.distill.soft_labels import write_soft_labels
    from kdseg.distill.trainers import train_student
    from kdseg.distill.trainers.online import train_online_pair

    config = kdcfg.load_config(REPO / "config" / "kd-methods.yaml")
    teacher_arch, student_arch = RUNS["unet3d-authors"][0], {
        "network": "unet3d", "kwargs": {"features": [2, 4]}, "patch": [16, 16, 16]}  # fmt: skip
    training = {"iterations": 3, "batch_size": 2, "validate_every": 2, "device": "cpu",
                "loader_workers": 0}  # fmt: skip
    soft = []
    for seed in (1, 2):
        out = tmp_path / f"teacher{seed}"
        out.mkdir()
        train_segmentation_model(
            pre, out / "model.pt", out / "h.csv", out / "h.png", out / "c.pt", teacher_arch,
            {"name": "ce"}, training, seed=seed,
        )  # fmt: skip
        write_soft_labels([out / "model.pt"], pre, tmp_path / f"soft{seed}", device="cpu")
        soft.append(str(tmp_path / f"soft{seed}"))
    hashes = {}
    for name in ("kd", "feature", "adaptive"):
        out = tmp_path / name
        out.mkdir()
        teachers = {"soft_labels": soft if name == "adaptive" else soft[:1],
                    "models": [str(tmp_path / "teacher1" / "model.pt")]}  # fmt: skip
        train_student(
            name, kdcfg.student_settings(config, name), teachers, preprocessed=pre,
            model_out=out / "model.pt", history_out=out / "h.csv", curves_out=out / "h.png",
            checkpoint=out / "c.pt", architecture=student_arch, training=training, seed=5,
            name=name,
        )  # fmt: skip
        hashes[name] = digest(read_model_file(out / "model.pt")["state_dict"])
    out = tmp_path / "online"
    out.mkdir()
    train_online_pair(
        pre, out / "teacher.pt", out / "student.pt", out / "h.csv", out / "h.png", out / "c.pt",
        teacher_arch, {"name": "ce"}, student_arch, phase_settings(config, "online"), training,
        seed=7,
    )  # fmt: skip
    for role in ("student", "teacher"):
        hashes[f"online-{role}"] = digest(read_model_file(out / f"{role}.pt")["state_dict"])
    return hashes


def test_students_weights_are_those_of_today(tiny_preprocessed, tmp_path):
    if torch.__version__ != PINNED_TORCH:
        pytest.skip(f"weights pinned with torch {PINNED_TORCH}, not {torch.__version__}")
    assert _student_runs(tiny_preprocessed, tmp_path) == STUDENTS
