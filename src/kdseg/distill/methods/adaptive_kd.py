"""Limit-trained multi-teacher students (METHODS 2b; Ben Loussaief et al. 2023).

The teachers are the members of an ensemble; with ``ensembles.<name>.subsets: K`` each member
is trained on one of K disjoint, patient-respecting subsets of the training cases (drawn with
the dataset's split seed: :func:`kdseg.data.splits.disjoint_subsets`). Each teacher's soft labels
are stored separately; per voxel of every batch the student's target is the adaptive mean of
:func:`kdseg.distill.adaptive.adaptive_target` (teacher weights: softmax over teachers of
``-CE / tau`` against the reference; our rule, the paper's is not public), and the loss is the
paper's KD loss against that target. The tables also show each teacher and their plain mean
(the ensemble).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from kdseg.config import ensemble_members
from kdseg.data.preprocess import load_manifest
from kdseg.distill.adaptive import adaptive_target
from kdseg.distill.kd_loss import KDLoss
from kdseg.distill.methods.base import (
    KD_LOSS_KEYS,
    StudentMethod,
    StudentRun,
    TeacherFiles,
    TeacherNeeds,
)
from kdseg.distill.soft_labels import SCALE, open_soft_labels
from kdseg.train.loop import StepLoss
from kdseg.train.segmentation import (
    StepLossFactory,
    cases_of_split,
    input_identity,
    train_network,
)


def adaptive_step_loss(settings: Mapping[str, Any], teachers: int) -> StepLossFactory:
    """KD loss against the per-voxel adaptive mean of the batch's ``soft0..soft{T-1}``."""

    def make_step_loss(num_classes: int, device: torch.device, _network: nn.Module) -> StepLoss:
        criterion = KDLoss.from_settings(settings)
        tau = float(settings.get("tau", 1.0))

        def step(net: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            probs = torch.stack([batch[f"soft{k}"] * SCALE for k in range(teachers)])
            target = adaptive_target(probs, batch["label"], tau)
            return criterion(net(batch["image"]), target, batch["label"])

        return step

    return make_step_loss


class AdaptiveMultiTeacherKD(StudentMethod):
    name = "adaptive"
    keys = ("ensembles", *KD_LOSS_KEYS, "tau")
    loss_keys = (*KD_LOSS_KEYS, "tau")
    summary = "per-voxel adaptive mean of several (limit-trained) teachers (Ben Loussaief et al.)"

    def needs(self, config: Mapping[str, Any], run: StudentRun) -> TeacherNeeds:
        return TeacherNeeds(soft_labels=tuple(ensemble_members(config, run.teacher)))

    def train(
        self, settings: Mapping[str, Any], teachers: TeacherFiles, **common: Any
    ) -> dict[str, Any]:
        cases = cases_of_split(load_manifest(common["preprocessed"]), "train")
        extra: dict[str, dict[str, Any]] = {case: {} for case in cases}
        for k, folder in enumerate(teachers.soft_labels):
            for case, arrays in open_soft_labels(folder, cases).items():
                extra[case][f"soft{k}"] = arrays["soft"]
        return train_network(
            make_step_loss=adaptive_step_loss(settings, len(teachers.soft_labels)),
            extra=extra,
            meta={"distillation": {"method": self.name, **dict(settings),
                                   "teachers": list(teachers.soft_labels)}},
            fingerprint={"distillation": {"method": self.name, **dict(settings)},
                         "teachers": [input_identity(f) for f in teachers.soft_labels]},
            **common,
        )  # fmt: skip


METHOD = AdaptiveMultiTeacherKD()
