"""Adaptive soft targets from several teachers (METHODS 2b: limit-trained multi-teacher KD).

Ben Loussaief et al. teach one student with K teachers, each trained on a disjoint subset of
the training cases. Their exact weighting is not public in any text we could read; our rule,
configurable through ``tau``: per voxel, teacher k's weight is the softmax over teachers of
``-CE_k / tau``, where ``CE_k = -log q_k[y]`` is teacher k's cross-entropy against the reference
at that voxel; the soft target is the weighted mean of the teachers' probabilities. Small
``tau`` trusts the teacher that is right at the voxel; large ``tau`` tends to the plain mean.
"""

from __future__ import annotations

import torch

EPS = 1e-6


def teacher_weights(teachers: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """Per-voxel weights (T, N, ...) of T teachers' probabilities (T, N, K, ...)."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, not {tau}")
    index = (
        labels.long().unsqueeze(0).unsqueeze(2).expand(teachers.shape[0], -1, 1, *labels.shape[1:])
    )
    cross_entropy = -torch.log(teachers.gather(2, index).squeeze(2).clamp_min(EPS))
    return torch.softmax(-cross_entropy / tau, dim=0)


def adaptive_target(teachers: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """The weighted mean (N, K, ...) of T teachers' probabilities (T, N, K, ...)."""
    weights = teacher_weights(teachers, labels, tau)
    return (weights.unsqueeze(2) * teachers).sum(0)
