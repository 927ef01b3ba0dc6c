"""Feature distillation: one teacher run live on every batch, KL + Lovász + Dice + adapted
feature MSE (:mod:`kdseg.config.methods.feature`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from kdseg.config.methods import TeacherFiles
from kdseg.distill.features import FeatureKDLoss, FeatureTap, feature_channels
from kdseg.errors import ConfigError
from kdseg.models.model_file import load_model
from kdseg.nets import input_geometry
from kdseg.nets.unet import UNet
from kdseg.train.fingerprint import input_identity
from kdseg.train.job import Objective, StepLossFactory, TrainingJob
from kdseg.train.loop import StepLoss
from kdseg.train.segmentation import train_network


def default_layers(network: nn.Module) -> list[str]:
    """Our default feature layers: a kdseg U-Net's bottleneck and last decoder block."""
    if isinstance(network, UNet):
        return [f"down.{len(network.down) - 1}", f"merge.{len(network.merge) - 1}"]
    raise ConfigError(
        f"feature KD: no default feature layers for {type(network).__name__}; set the "
        "student entry's 'layers' ({student: [...], teacher: [...]})"
    )


class FeatureStep(nn.Module):
    """The step loss: student and frozen teacher on the batch, features tapped, four terms.

    Only the adapters (in ``loss``) are parameters of this module; the teacher is held
    outside the module tree so that it is neither trained, checkpointed nor switched to
    training mode."""

    def __init__(
        self,
        loss: FeatureKDLoss,
        teacher: nn.Module,
        student_layers: Sequence[str],
        teacher_layers: Sequence[str],
    ) -> None:
        super().__init__()
        self.loss = loss
        self.teacher_ref = (teacher,)
        self.student_layers, self.teacher_layers = list(student_layers), list(teacher_layers)

    def forward(self, net: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        teacher = self.teacher_ref[0]
        student = net.network if hasattr(net, "network") else net
        with FeatureTap(student, self.student_layers) as tap:
            logits = net(batch["image"])
        with torch.no_grad(), FeatureTap(teacher, self.teacher_layers) as teacher_tap:
            teacher_logits = teacher(batch["image"])
        return self.loss(
            logits, teacher_logits, batch["label"],
            [tap.features[n] for n in self.student_layers],
            [teacher_tap.features[n] for n in self.teacher_layers],
        )  # fmt: skip


def feature_step_loss(
    settings: Mapping[str, Any], teacher_file: str, patch: Sequence[int]
) -> StepLossFactory:
    """The factory of :class:`FeatureStep` for a student network and a teacher model file."""

    def make_step_loss(num_classes: int, device: torch.device, network: nn.Module) -> StepLoss:
        teacher, meta, _spec = load_model(teacher_file, device)
        teacher.requires_grad_(False)
        if input_geometry(teacher)[0] != input_geometry(network)[0]:
            raise ConfigError(
                f"feature KD: teacher {teacher_file} and student lose different margins; "
                "they must take the same patches"
            )
        layers = settings["layers"] or {}  # null: our default layers
        student_layers = layers.get("student") or default_layers(network)
        teacher_layers = layers.get("teacher") or default_layers(teacher)
        network.to(device)
        example = torch.zeros(1, int(meta["in_channels"]), *patch, device=device)
        loss = FeatureKDLoss(
            num_classes,
            feature_channels(network, student_layers, example),
            feature_channels(teacher, teacher_layers, example),
            spatial_dims=len(patch),
            weights=settings["weights"],
            temperature=float(settings["temperature"]),
        )
        return FeatureStep(loss, teacher, student_layers, teacher_layers)

    return make_step_loss


def train(settings: Mapping[str, Any], teachers: TeacherFiles, **common: Any) -> dict[str, Any]:
    """The student against its one live teacher's probabilities and features."""
    return train_network(TrainingJob.of(**common), Objective(
        feature_step_loss(settings, teachers.models[0], common["architecture"]["patch"]),
        meta={"distillation": {"method": "feature", **dict(settings),
                               "teacher": teachers.models[0]}},
        fingerprint={"distillation": {"method": "feature", **dict(settings)},
                     "teachers": [input_identity(teachers.models[0])]},
    ))  # fmt: skip
