"""Students distilled from an ensemble's soft labels (Noothout et al.)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from kdseg.data.preprocess import load_manifest
from kdseg.distill.kd_loss import KDLoss
from kdseg.distill.soft_labels import SCALE, open_soft_labels
from kdseg.train.loop import StepLoss
from kdseg.train.segmentation import cases_of_split, train_network

KD_KEYS = ("soft_loss", "temperature", "hard_weight")


def train_student(
    preprocessed: str | Path,
    soft_labels: str | Path,
    model_out: str | Path,
    history_out: str | Path,
    curves_out: str | Path,
    checkpoint: str | Path,
    architecture: Mapping[str, Any],
    kd: Mapping[str, Any],
    training: Mapping[str, Any],
    seed: int,
    name: str = "student",
    threads: int = 1,
) -> dict[str, Any]:
    """Train a student on the ensemble's soft labels plus the weighted hard labels."""
    manifest = load_manifest(preprocessed)
    extra = open_soft_labels(soft_labels, cases_of_split(manifest, "train"))
    settings = {k: kd[k] for k in KD_KEYS if k in kd}
    return train_network(
        preprocessed, model_out, history_out, curves_out, checkpoint, architecture, training,
        seed, kd_step_loss(settings), name, threads, extra=extra,
        meta={"distillation": settings},
    )  # fmt: skip


def kd_step_loss(settings: Mapping[str, Any]) -> Callable[[int, torch.device], StepLoss]:
    """The step-loss factory of distillation: soft term against the batch's ``soft`` labels
    (8-bit, rescaled here) plus the weighted hard term against its ``label``."""

    def make_step_loss(num_classes: int, device: torch.device) -> StepLoss:
        criterion = KDLoss(**settings)

        def step(net: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return criterion(net(batch["image"]), batch["soft"] * SCALE, batch["label"])

        return step

    return make_step_loss
