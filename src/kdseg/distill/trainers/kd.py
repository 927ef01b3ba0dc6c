"""The paper's students: KD from one soft-label source (an ensemble's or one model's mean
probabilities) plus the weighted hard labels. Also the training of teacher assistants (every
link of the chain) and of online KD's phase 2."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdseg.config.methods import TeacherFiles
from kdseg.data.preprocess import load_manifest
from kdseg.distill.kd_loss import SOFTEN_RULES, KDLoss
from kdseg.distill.patch_guides import patch_guides
from kdseg.distill.soft_labels import SoftLabelLayout, open_soft_labels
from kdseg.errors import ConfigError
from kdseg.train.fingerprint import input_identity
from kdseg.train.job import Objective, StepLossFactory, TrainingJob
from kdseg.train.loop import StepLoss
from kdseg.train.segmentation import train_network
from kdseg.train.validation import cases_of_split


def train(settings: Mapping[str, Any], teachers: TeacherFiles, **common: Any) -> dict[str, Any]:
    """KD from the one soft-label source, from random or ``init`` weights."""
    return train_from_soft_labels(teachers.soft_labels[0], settings, init=teachers.init, **common)


def train_from_soft_labels(
    soft_labels: str | Path,
    settings: Mapping[str, Any],
    init: str | Path | None = None,
    **common: Any,
) -> dict[str, Any]:
    """Train a student on soft labels plus the weighted hard labels (``init``: start from
    the weights of a model file)."""
    manifest = load_manifest(common["preprocessed"])
    layout = SoftLabelLayout.read(soft_labels)
    layout.require(*target_settings(settings), soft_labels)
    cases = cases_of_split(manifest, "train")
    extra = open_soft_labels(soft_labels, cases)
    return train_network(TrainingJob.of(init=init, **common), Objective(
        kd_step_loss(settings, layout), extra=extra,
        guides=patch_guides(extra, cases, layout, settings),
        meta={"distillation": {**dict(settings), "soft_labels": str(soft_labels),
                               "init": str(init) if init else None}},
        fingerprint={"distillation": dict(settings), "teachers": [input_identity(soft_labels)]},
    ))  # fmt: skip


def target_settings(settings: Mapping[str, Any]) -> tuple[float, str]:
    """(temperature, soften rule) of a student's settings. At T = 1 the settings leave
    ``soften`` out (:meth:`~kdseg.config.methods.StudentMethod.settings`): every rule gives
    the same target there, and the first of :data:`SOFTEN_RULES` stands for them."""
    temperature = float(settings["temperature"])
    if temperature == 1 and "soften" not in settings:
        return temperature, SOFTEN_RULES[0]
    if "soften" not in settings:
        raise ConfigError(f"student settings: 'soften' is needed at temperature {temperature:g}")
    return temperature, str(settings["soften"])


def kd_step_loss(
    settings: Mapping[str, Any], layout: SoftLabelLayout | None = None
) -> StepLossFactory:
    """The step-loss factory of distillation: soft term against the target at temperature T
    made from the batch's stored ``soft`` labels (``layout``: how they are stored; default
    8-bit mean probabilities) plus the weighted hard term against its ``label``."""
    layout = layout or SoftLabelLayout()
    temperature, rule = target_settings(settings)

    def make_step_loss(num_classes: int, device: torch.device, _network: nn.Module) -> StepLoss:
        criterion = KDLoss.from_settings(settings)

        def step(net: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            target = layout.target(batch["soft"], temperature, rule)
            return criterion(net(batch["image"]), target, batch["label"])

        return step

    return make_step_loss
