"""Limit-trained multi-teacher students: the per-voxel adaptive mean of several teachers' soft
labels as the target (:mod:`kdseg.config.methods.adaptive`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from kdseg.config.methods import TeacherFiles
from kdseg.data.preprocess import load_manifest
from kdseg.distill.adaptive import teacher_weights
from kdseg.distill.kd_loss import KDLoss, tempered_target
from kdseg.distill.soft_labels import SoftLabelLayout, open_soft_labels
from kdseg.distill.trainers.kd import target_settings
from kdseg.errors import KdsegError
from kdseg.train.fingerprint import input_identity
from kdseg.train.job import Objective, StepLossFactory, TrainingJob
from kdseg.train.loop import StepLoss
from kdseg.train.segmentation import train_network
from kdseg.train.validation import cases_of_split


def adaptive_step_loss(
    settings: Mapping[str, Any], layouts: int | Sequence[SoftLabelLayout]
) -> StepLossFactory:
    """KD loss against the per-voxel adaptive mixture of the batch's ``soft0..soft{n-1}``
    (``layouts``: how each teacher's soft labels are stored; a count: all 8-bit).

    The weights come from each teacher's probabilities at T = 1; at temperature T the
    mixture is ``sum_k w_k softmax(z_k / T)`` (``soften: members``, the authors' rule applied
    to weighted members) or the mixture at T = 1 softened (``soften: average``)."""
    if isinstance(layouts, int):
        layouts = [SoftLabelLayout()] * layouts
    temperature, rule = target_settings(settings)

    def make_step_loss(num_classes: int, device: torch.device, _network: nn.Module) -> StepLoss:
        criterion = KDLoss.from_settings(settings)
        tau = float(settings["tau"])

        def step(net: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            logp = torch.cat(
                [layout.log_probabilities(batch[f"soft{k}"]) for k, layout in enumerate(layouts)],
                dim=1,
            )  # (N, teachers, K, ...)
            probs = torch.softmax(logp, dim=2).transpose(0, 1)  # (teachers, N, K, ...) at T = 1
            weights = teacher_weights(probs, batch["label"], tau).transpose(0, 1)
            target = tempered_target(logp, temperature, rule, weights)
            return criterion(net(batch["image"]), target, batch["label"])

        return step

    return make_step_loss


def train(settings: Mapping[str, Any], teachers: TeacherFiles, **common: Any) -> dict[str, Any]:
    """The adaptive mixture of every teacher's soft labels as the target."""
    cases = cases_of_split(load_manifest(common["preprocessed"]), "train")
    extra: dict[str, dict[str, Any]] = {case: {} for case in cases}
    layouts = [SoftLabelLayout.read(folder) for folder in teachers.soft_labels]
    for layout, folder in zip(layouts, teachers.soft_labels, strict=True):
        layout.require(*target_settings(settings), folder)
        if layout.groups != 1:
            raise KdsegError(f"{folder}: method 'adaptive' needs one model's soft labels")
    for k, folder in enumerate(teachers.soft_labels):
        for case, arrays in open_soft_labels(folder, cases).items():
            extra[case][f"soft{k}"] = arrays["soft"]
    return train_network(TrainingJob.of(**common), Objective(
        adaptive_step_loss(settings, layouts),
        extra=extra,
        meta={"distillation": {"method": "adaptive", **dict(settings),
                               "teachers": list(teachers.soft_labels)}},
        fingerprint={"distillation": {"method": "adaptive", **dict(settings)},
                     "teachers": [input_identity(f) for f in teachers.soft_labels]},
    ))  # fmt: skip
