"""Validation during training: the mean and per-structure Dice of the validation cases at
preprocessed resolution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kdseg.data.preprocess import open_case
from kdseg.evaluation.metrics import class_dice
from kdseg.models.windows import InferenceSpec, predict_probabilities


def cases_of_split(manifest: Mapping[str, Any], split: str) -> list[str]:
    """Case names of one split, in manifest order."""
    return [c["case"] for c in manifest["cases"] if c["split"] == split]


def structure_columns(labels: Mapping[str, Any]) -> list[str]:
    """History columns of the per-structure validation Dice, in label-value order
    (``validation_dice_<structure>``)."""
    ordered = sorted(labels, key=lambda name: int(labels[name]))
    return [f"validation_dice_{name}" for name in ordered[1:]]


def validation_scores(
    per_case: Sequence[Sequence[float]], labels: Mapping[str, Any]
) -> dict[str, float]:
    """``validation_dice`` (mean over structures of the mean over cases) and one
    :func:`structure_columns` entry per structure, from each case's :func:`class_dice`."""
    per_structure = np.mean(per_case, axis=0)
    columns = structure_columns(labels)
    return {"validation_dice": float(per_structure.mean()),
            **{c: float(v) for c, v in zip(columns, per_structure, strict=True)}}  # fmt: skip


def make_validator(
    preprocessed: str | Path,
    manifest: Mapping[str, Any],
    spec: InferenceSpec,
    device: torch.device,
    max_cases: int,
):
    """A function model -> mean validation Dice at preprocessed resolution (None: no cases)."""
    names = cases_of_split(manifest, "validation")[:max_cases]
    if not names:
        return None
    labels = manifest["dataset"]["labels"]

    def validate(model: nn.Module) -> dict[str, float]:
        per_case = []
        for name in names:
            image, label = open_case(preprocessed, name)
            probs = predict_probabilities(model, image, spec, device=device, amp=False)
            per_case.append(class_dice(probs.argmax(0), np.asarray(label), len(labels)))
        return validation_scores(per_case, labels)

    return validate
