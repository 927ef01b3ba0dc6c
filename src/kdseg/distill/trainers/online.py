"""Online KD's phase 1: teacher and student trained together (:mod:`kdseg.config.methods.online`);
its phase 2 is :mod:`kdseg.distill.trainers.kd`'s training."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdseg.data.preprocess import load_manifest
from kdseg.device import choose_device
from kdseg.distill.kd_loss import KDLoss, tempered_softmax
from kdseg.errors import ConfigError
from kdseg.figures.curves import plot_training_curves
from kdseg.losses import build_loss
from kdseg.model_file import save_model
from kdseg.nets import build_network, count_parameters, input_geometry
from kdseg.provenance import provenance
from kdseg.train.loop import TrainSettings, train
from kdseg.train.segmentation import (
    LOOP_KEYS,
    build_sampler,
    inference_spec,
    input_identity,
    live_progress,
    make_validator,
    model_metadata,
    network_state,
    write_history,
)

log = logging.getLogger("kdseg")


class OnlinePair(nn.Module):
    """Teacher and student trained together; applying the pair applies the student."""

    def __init__(self, teacher: nn.Module, student: nn.Module) -> None:
        super().__init__()
        self.teacher, self.student = teacher, student

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.student(x)


def online_step_loss(label_loss: nn.Module, kd: KDLoss):
    """Teacher: its label loss; student: KD against the current teacher (detached) at the
    loss's temperature, ``softmax(z / T)`` (one teacher: the soften rules agree)."""

    def step(pair: OnlinePair, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        teacher_logits = pair.teacher(batch["image"])
        student_logits = pair.student(batch["image"])
        target = tempered_softmax(teacher_logits.detach(), kd.temperature)
        return label_loss(teacher_logits, batch["label"]) + kd(
            student_logits, target, batch["label"]
        )

    return step


def train_online_pair(
    preprocessed: str | Path,
    teacher_out: str | Path,
    student_out: str | Path,
    history_out: str | Path,
    curves_out: str | Path,
    checkpoint: str | Path,
    teacher_architecture: Mapping[str, Any],
    teacher_loss: Mapping[str, Any],
    architecture: Mapping[str, Any],
    settings: Mapping[str, Any],
    training: Mapping[str, Any],
    seed: int,
    name: str = "online",
    threads: int = 1,
) -> dict[str, Any]:
    """Phase 1: teacher and student in one run; writes the best teacher and the student."""
    torch.set_num_threads(threads)
    manifest = load_manifest(preprocessed)
    num_classes, in_channels = len(manifest["dataset"]["labels"]), len(manifest["modalities"])
    device = choose_device(training.get("device", "auto"))
    torch.manual_seed(seed)
    nets = {
        role: build_network(arch["network"], in_channels, num_classes, **arch.get("kwargs", {}))
        for role, arch in (("teacher", teacher_architecture), ("student", architecture))
    }
    (t_margin, t_divisor), (s_margin, s_divisor) = map(input_geometry, nets.values())
    if t_margin != s_margin:
        raise ConfigError(
            f"online KD {name}: teacher and student lose different margins; they must take "
            "the same patches"
        )
    if any(int(p) % max(t_divisor, s_divisor) for p in architecture["patch"]):
        raise ConfigError(
            f"online KD {name}: patch {list(architecture['patch'])} must be a multiple of "
            f"{max(t_divisor, s_divisor)} for both teacher and student"
        )
    pair = OnlinePair(nets["teacher"], nets["student"])
    sampler = build_sampler(preprocessed, manifest, architecture, training, pair.teacher, seed)
    kd = KDLoss.from_settings(settings)
    step = online_step_loss(build_loss(dict(teacher_loss), num_classes).to(device), kd)
    teacher_spec = inference_spec(teacher_architecture)
    validate = make_validator(
        preprocessed, manifest, teacher_spec, device, int(training.get("validation_cases", 4))
    )
    loop = TrainSettings(**{k: v for k, v in training.items() if k in LOOP_KEYS})
    for role, net in nets.items():
        log.info("%s: %s %s, %d parameters", name, role, type(net).__name__,
                 count_parameters(net))  # fmt: skip
    recorded = {
        "teacher_architecture": dict(teacher_architecture),
        "teacher_loss": dict(teacher_loss),
        "architecture": dict(architecture),
        "distillation": dict(settings),
        "training": {k: v for k, v in training.items() if k not in LOOP_KEYS | {"device"}},
        "data": input_identity(preprocessed),
    }
    result = train(
        pair, sampler, step, loop, seed, checkpoint, device,
        None if validate is None else (lambda _pair: validate(pair.teacher)), name, recorded,
        progress=live_progress(history_out, curves_out, f"{name} (validation: teacher)"),
    )  # fmt: skip
    best = result.best_state if result.best_state is not None else result.final_state
    recorded = {
        "teacher_architecture": dict(teacher_architecture),
        "architecture": dict(architecture),
        "training": dict(training),
        **settings,
    }
    common = {"seed": seed, "iterations": loop.iterations, "name": name,
              "provenance": provenance(recorded, seed)}  # fmt: skip
    teacher_info = model_metadata(manifest, teacher_architecture, teacher_spec, pair.teacher)
    teacher_info.update(common, loss=dict(teacher_loss),
                        weights="best" if result.best_state is not None else "final",
                        best_iteration=result.best_iteration,
                        best_validation_dice=result.best_score)  # fmt: skip
    student_info = model_metadata(
        manifest, architecture, inference_spec(architecture), pair.student
    )
    student_info.update(common, weights="final", distillation={"method": "online", **settings})
    write_history(history_out, result.history)
    plot_training_curves(result.history, curves_out, title=f"{name} (validation: teacher)")
    save_model(teacher_out, network_state(best, "teacher."), teacher_info)
    save_model(student_out, network_state(result.final_state, "student."), student_info)
    Path(checkpoint).unlink(missing_ok=True)
    return {"teacher": teacher_info, "student": student_info}
