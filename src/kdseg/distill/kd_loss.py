"""The ensemble-distillation loss of Noothout et al.: a soft term plus a weighted hard term.

``loss = soft(student, ensemble) + hard_weight * CE(student logits, reference labels)``

Soft terms (``soft_loss``):

- ``mse`` (the authors' code): sum over classes of the mean squared difference between the
  student's softmax and the ensemble's probabilities;
- ``soft_ce``: cross-entropy of the student's softmax at temperature T against the ensemble's
  probabilities at T, times T^2;
- ``kl``: KL(ensemble_T || student_T) times T^2 (Hinton et al.).

The ensemble is stored as probabilities (a mean of softmaxes has no logits), so its temperature-T
distribution is ``q**(1/T)`` renormalised, which equals ``softmax(z/T)`` for any logits z of q.
Cross-entropy is always applied to logits (the authors' code applied it to softmax outputs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kdseg.errors import ConfigError

SOFT_LOSSES = ("mse", "soft_ce", "kl")
SETTINGS = ("soft_loss", "temperature", "hard_weight")  # config keys of a student entry
EPS = 1e-8


def soften(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(log(q) / T)`` over the class axis (1)."""
    if temperature == 1:
        q = probabilities.clamp_min(0)
        return q / q.sum(1, keepdim=True).clamp_min(EPS)
    return torch.softmax(torch.log(probabilities.clamp_min(EPS)) / temperature, dim=1)


class KDLoss(nn.Module):
    """Soft term against ensemble probabilities + ``hard_weight`` x CE against labels."""

    def __init__(self, soft_loss: str = "mse", temperature: float = 1.0, hard_weight: float = 0.1):
        super().__init__()
        if soft_loss not in SOFT_LOSSES:
            raise ConfigError(f"soft_loss {soft_loss!r}: unknown (known: {', '.join(SOFT_LOSSES)})")
        if temperature <= 0:
            raise ConfigError(f"temperature {temperature}: must be > 0")
        self.soft_loss, self.temperature, self.hard_weight = soft_loss, temperature, hard_weight

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> KDLoss:
        """The loss of a student entry's settings (keys other than :data:`SETTINGS` ignored)."""
        return cls(**{k: settings[k] for k in SETTINGS if k in settings})

    def soft(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The soft term alone (mean over voxels and batch)."""
        t = self.temperature
        if self.soft_loss == "mse":
            return ((logits.softmax(1) - soften(target, 1.0)) ** 2).mean(0).mean(
                tuple(range(1, logits.ndim - 1))
            ).sum()  # fmt: skip
        q = soften(target, t)
        log_p = F.log_softmax(logits / t, dim=1)
        if self.soft_loss == "soft_ce":
            per_voxel = -(q * log_p).sum(1)
        else:
            per_voxel = (q * (torch.log(q.clamp_min(EPS)) - log_p)).sum(1)
        return per_voxel.mean() * t * t

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        logits = logits.float()
        loss = self.soft(logits, target.float())
        if self.hard_weight and labels is not None:
            loss = loss + self.hard_weight * F.cross_entropy(logits, labels.long())
        return loss
