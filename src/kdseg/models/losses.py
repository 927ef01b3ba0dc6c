"""Segmentation losses on logits: cross-entropy, soft Dice and their sum.

- ``ce``: :class:`torch.nn.CrossEntropyLoss` on logits (never on softmax outputs: the
  authors' code applied it to probabilities, a double softmax), optional class weights.
- ``dice``: MONAI's :class:`~monai.losses.DiceLoss` with softmax, background included (the
  authors' ``dice_loss``; ``include_background: false`` leaves it out) and batch reduction
  (``batch: true``: intersections and sums are pooled over the whole batch before the ratio,
  so a patch that lacks a structure does not give a noisy 0/0 term). Without the background
  term, a structure absent from a batch costs the same whatever is predicted, so background
  voxels can be labelled as that structure for free: Dice-trained networks of the default
  study labelled everything outside the body as one structure (docs/distillation.md).
- ``ce+dice``: the sum of the two (MONAI's ``DiceCELoss`` computes the same thing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.losses import DiceLoss
from torch import nn

from kdseg.errors import ConfigError

LOSS_NAMES = ("ce", "dice", "ce+dice")


class SegmentationLoss(nn.Module):
    """Loss of logits ``(B, K, ...)`` against integer labels ``(B, ...)``."""

    def __init__(
        self,
        name: str,
        num_classes: int,
        class_weights: Sequence[float] | None = None,
        include_background: bool = True,
        batch: bool = True,
    ) -> None:
        super().__init__()
        if name not in LOSS_NAMES:
            raise ConfigError(f"loss {name!r}: unknown (known: {', '.join(LOSS_NAMES)})")
        if class_weights is not None and len(class_weights) != num_classes:
            raise ConfigError(
                f"loss {name!r}: class_weights has {len(class_weights)} values "
                f"for {num_classes} classes"
            )
        self.name = name
        weight = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float)
        self.ce = nn.CrossEntropyLoss(weight=weight) if "ce" in name.split("+") else None
        self.dice = (
            DiceLoss(
                include_background=include_background,
                to_onehot_y=True,
                softmax=True,
                batch=batch,
            )
            if "dice" in name.split("+")
            else None
        )

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Scalar loss; ``labels`` are class indices with the logits' spatial shape."""
        logits = logits.float()
        total = logits.new_zeros(())
        if self.ce is not None:
            total = total + self.ce(logits, labels.long())
        if self.dice is not None:
            total = total + self.dice(logits, labels.unsqueeze(1))
        return total


def build_loss(settings: dict[str, Any], num_classes: int) -> SegmentationLoss:
    """A loss from its config section, e.g. ``{name: dice, include_background: false}``."""
    kwargs = {k: v for k, v in settings.items() if k != "name"}
    try:
        return SegmentationLoss(settings["name"], num_classes, **kwargs)
    except TypeError as err:
        raise ConfigError(f"loss {settings.get('name')!r}: bad arguments ({err})") from err
