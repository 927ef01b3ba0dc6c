"""Online KD's phase 1: teacher and student trained together (:mod:`kdseg.config.methods.online`),
in one run of the shared training routine (:func:`~kdseg.train.segmentation.train_network`);
its phase 2 is :mod:`kdseg.distill.trainers.kd`'s training."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdseg.distill.kd_loss import KDLoss, tempered_softmax
from kdseg.errors import ConfigError
from kdseg.models.losses import build_loss
from kdseg.models.model_file import save_model
from kdseg.models.windows import InferenceSpec
from kdseg.nets import build_network, count_parameters, input_geometry
from kdseg.train.job import Objective, StepLossFactory, TrainingJob
from kdseg.train.loop import StepLoss, TrainResult
from kdseg.train.segmentation import (
    inference_spec,
    model_metadata,
    network_state,
    train_network,
)
from kdseg.train.settings import TrainingSection

log = logging.getLogger("kdseg")


class OnlinePair(nn.Module):
    """Teacher and student trained together; applying the pair applies the student. Both
    take the same patches: equal valid margins, sizes a multiple of both divisors."""

    def __init__(self, teacher: nn.Module, student: nn.Module) -> None:
        super().__init__()
        self.teacher, self.student = teacher, student
        (t_margin, t_divisor), (s_margin, s_divisor) = map(input_geometry, (teacher, student))
        if t_margin != s_margin:
            raise ConfigError(
                "online KD: teacher and student lose different margins; they must take the "
                "same patches"
            )
        self.valid_margin, self.size_divisor = t_margin, max(t_divisor, s_divisor)

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


def _pair_step_loss(
    teacher_loss: Mapping[str, Any], settings: Mapping[str, Any]
) -> StepLossFactory:
    def make(num_classes: int, device: torch.device, _pair: nn.Module) -> StepLoss:
        label_loss = build_loss(dict(teacher_loss), num_classes).to(device)
        return online_step_loss(label_loss, KDLoss.from_settings(settings))

    return make


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
    """Phase 1: teacher and student in one run (validated: the teacher); writes the teacher
    of the best validation Dice (the final one without validation) and the final student."""
    typed = TrainingSection.of(training)
    teacher_spec = inference_spec(teacher_architecture, typed.padding)
    roles = {"teacher": teacher_architecture, "student": architecture}

    def build(in_channels: int, num_classes: int) -> tuple[nn.Module, nn.Module, InferenceSpec]:
        nets = {
            role: build_network(arch["network"], in_channels, num_classes, **arch.get("kwargs", {}))
            for role, arch in roles.items()
        }
        pair = OnlinePair(nets["teacher"], nets["student"])
        if any(int(p) % pair.size_divisor for p in architecture["patch"]):
            raise ConfigError(
                f"online KD {name}: patch {list(architecture['patch'])} must be a multiple of "
                f"{pair.size_divisor} for both teacher and student"
            )
        for role, net in nets.items():
            log.info("%s: %s %s, %d parameters", name, role, type(net).__name__,
                     count_parameters(net))  # fmt: skip
        return pair, pair.teacher, teacher_spec

    def write_models(
        result: TrainResult, pair: nn.Module, manifest: Mapping[str, Any], common: dict[str, Any]
    ) -> dict[str, Any]:
        best = result.best_state if result.best_state is not None else result.final_state
        teacher_info = model_metadata(manifest, teacher_architecture, teacher_spec, pair.teacher)
        teacher_info.update(common, loss=dict(teacher_loss),
                            weights="best" if result.best_state is not None else "final",
                            best_iteration=result.best_iteration,
                            best_validation_dice=result.best_score)  # fmt: skip
        student_info = model_metadata(
            manifest, architecture, inference_spec(architecture, teacher_spec.padding), pair.student
        )
        student_info.update(common, weights="final",
                            distillation={"method": "online", **settings})  # fmt: skip
        save_model(teacher_out, network_state(best, "teacher."), teacher_info)
        save_model(student_out, network_state(result.final_state, "student."), student_info)
        return {"teacher": teacher_info, "student": student_info}

    job = TrainingJob.of(
        preprocessed=preprocessed, model_out=student_out, history_out=history_out,
        curves_out=curves_out, checkpoint=checkpoint, architecture=architecture,
        training=typed, seed=seed, name=name, threads=threads,
    )  # fmt: skip
    return train_network(job, Objective(
        _pair_step_loss(teacher_loss, settings),
        meta={"teacher_architecture": dict(teacher_architecture), **dict(settings)},
        fingerprint={"teacher_architecture": dict(teacher_architecture),
                     "teacher_loss": dict(teacher_loss), "distillation": dict(settings)},
        build=build, write_models=write_models,
    ))  # fmt: skip
