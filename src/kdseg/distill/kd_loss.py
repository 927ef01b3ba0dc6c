"""The ensemble-distillation loss of Noothout et al.: a soft term plus a weighted hard term.

``loss = soft(student, target at T) + hard_weight * CE(student logits, reference labels)``

The target is the teacher's distribution at temperature T (:func:`tempered_target`); with
``soften: members`` (the authors' rule, our default) every member is softened and the results
averaged, ``mean_m softmax(z_m / T)`` (their networks end in ``softmax(z / T)``,
``src/networks.py:9-11``, and ``src/ensemble.py:283`` averages the members' outputs); with
``soften: average`` (our former rule) the members' probabilities are averaged first and the mean
softened, ``softmax(log(mean_m softmax(z_m)) / T)``. Both are the same at T = 1.

Soft terms (``soft_loss``), all with the student's softmax at the same temperature T:

- ``mse`` (the authors' code, ``src/training_network.py:223-224,488-490``): sum over classes of
  the mean squared difference between ``softmax(s / T)`` and the target (no T^2 factor);
- ``soft_ce``: cross-entropy of ``softmax(s / T)`` against the target, times T^2;
- ``kl``: KL(target || softmax(s / T)) times T^2 (Hinton et al.).

``soft_dice_weight`` (ours, default 0) adds that weight times a soft Dice term: MONAI's
:class:`~monai.losses.DiceLoss` between ``softmax(s / T)`` and the target itself (a Dice of
probabilities; background excluded, sums pooled over the batch, as our ``dice`` label loss). It
weighs every structure equally, where the voxel-averaged soft terms are dominated by background
voxels and barely move the probabilities of a structure a few voxels wide.

Cross-entropy is always applied to the logits at T = 1 (the authors' code applied it to the
softmax output at T, ``src/training_network.py:500``: a known bug, fixed on purpose).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss
from torch import nn

from kdseg.config.methods.base import KD_LOSS_KEYS
from kdseg.errors import ConfigError

SOFT_LOSSES = ("mse", "soft_ce", "kl")
SOFTEN_RULES = ("members", "average", "predictions")
LOSS_SETTINGS = (
    "soft_loss",
    "temperature",
    "hard_weight",
    "soft_dice_weight",
)  # the arguments of KDLoss
SETTINGS = KD_LOSS_KEYS  # config keys of a student entry (LOSS_SETTINGS and soften)
# the floor of probabilities before a logarithm: float32's smallest normal number, so that
# nothing a float32 softmax can tell apart from 0 is raised by the floor, at any temperature
TINY = float(torch.finfo(torch.float32).tiny)
EPS = 1e-8


def soften(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(log(q) / T)`` over the class axis (1): the ``average`` rule applied to mean
    probabilities ``q``."""
    if temperature == 1:
        q = probabilities.clamp_min(0)
        return q / q.sum(1, keepdim=True).clamp_min(EPS)
    return torch.softmax(torch.log(probabilities.clamp_min(TINY)) / temperature, dim=1)


def tempered_target(
    log_probabilities: torch.Tensor,
    temperature: float = 1.0,
    rule: str = "members",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The target (N, K, ...) at temperature T of S members' log-probabilities (N, S, K, ...).

    Log-probabilities are logits up to a per-voxel constant, which a softmax ignores, so
    ``softmax(log p_m / T) == softmax(z_m / T)``. ``weights`` (N, S, ...): per-voxel member
    weights summing to 1 (None: the plain mean). ``rule``: ``members``
    ``sum_m w_m softmax(z_m / T)``; ``average`` ``softmax(log(sum_m w_m softmax(z_m)) / T)``;
    ``predictions`` (the authors') as ``members`` here: it softens every prediction of a member
    (2D orientations, sliding windows) before they are blended, which soft labels stored for
    it already did (:mod:`kdseg.distill.soft_labels`); a live teacher makes one per voxel."""
    if rule not in SOFTEN_RULES:
        raise ConfigError(f"soften {rule!r}: unknown (known: {', '.join(SOFTEN_RULES)})")
    logp = log_probabilities.float()
    scale = temperature if rule != "average" else 1.0
    members = torch.softmax(logp / scale, dim=2)
    mean = members.mean(1) if weights is None else (weights.unsqueeze(2) * members).sum(1)
    if rule != "average" or temperature == 1:
        return mean
    return soften(mean, temperature)


def tempered_softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``softmax(z / T)`` over the class axis (1), in float32: one teacher's target at T."""
    return torch.softmax(logits.float() / temperature, dim=1)


class KDLoss(nn.Module):
    """Soft term against a target at temperature T + ``hard_weight`` x CE against labels."""

    def __init__(
        self,
        soft_loss: str = "mse",
        temperature: float = 1.0,
        hard_weight: float = 0.1,
        soft_dice_weight: float = 0.0,
    ):
        super().__init__()
        if soft_loss not in SOFT_LOSSES:
            raise ConfigError(f"soft_loss {soft_loss!r}: unknown (known: {', '.join(SOFT_LOSSES)})")
        if temperature <= 0:
            raise ConfigError(f"temperature {temperature}: must be > 0")
        if soft_dice_weight < 0:
            raise ConfigError(f"soft_dice_weight {soft_dice_weight}: must be >= 0")
        self.soft_loss, self.temperature, self.hard_weight = soft_loss, temperature, hard_weight
        self.soft_dice_weight = soft_dice_weight
        self.soft_dice = (
            DiceLoss(include_background=False, batch=True) if soft_dice_weight else None
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> KDLoss:
        """The loss of a student entry's settings (keys other than :data:`LOSS_SETTINGS`
        ignored)."""
        return cls(**{k: settings[k] for k in LOSS_SETTINGS if k in settings})

    def soft(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The soft term alone (mean over voxels and batch); ``target``: the teacher's
        distribution at this loss's temperature (:func:`tempered_target`)."""
        t = self.temperature
        if self.soft_loss == "mse":
            return ((tempered_softmax(logits, t) - target) ** 2).mean(0).mean(
                tuple(range(1, logits.ndim - 1))
            ).sum()  # fmt: skip
        log_p = F.log_softmax(logits / t, dim=1)
        if self.soft_loss == "soft_ce":
            per_voxel = -(target * log_p).sum(1)
        else:
            per_voxel = (target * (torch.log(target.clamp_min(EPS)) - log_p)).sum(1)
        return per_voxel.mean() * t * t

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        logits = logits.float()
        loss = self.soft(logits, target.float())
        if self.soft_dice is not None:
            student = tempered_softmax(logits, self.temperature)
            loss = loss + self.soft_dice_weight * self.soft_dice(student, target.float())
        if self.hard_weight and labels is not None:
            loss = loss + self.hard_weight * F.cross_entropy(logits, labels.long())
        return loss
