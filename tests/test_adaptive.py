"""The adaptive multi-teacher target on hand-computable inputs."""

from __future__ import annotations

import math

import pytest
import torch

from kdseg.distill.adaptive import adaptive_target, teacher_weights


def test_weights_follow_each_teachers_cross_entropy():
    # 2 teachers, 1 image, 2 classes, 2 voxels; reference: class 1 at voxel 0, class 0 at voxel 1
    teachers = torch.tensor([
        [[[0.2, 0.6], [0.8, 0.4]]],  # teacher 0: q(reference) 0.8, 0.6
        [[[0.6, 0.9], [0.4, 0.1]]],  # teacher 1: q(reference) 0.4, 0.9
    ])  # fmt: skip
    labels = torch.tensor([[1, 0]])
    w = teacher_weights(teachers, labels, tau=1.0)
    # tau = 1: weights proportional to q_k[y]: voxel 0 -> 0.8 : 0.4, voxel 1 -> 0.6 : 0.9
    assert w[:, 0, 0].tolist() == pytest.approx([0.8 / 1.2, 0.4 / 1.2])
    assert w[:, 0, 1].tolist() == pytest.approx([0.6 / 1.5, 0.9 / 1.5])
    target = adaptive_target(teachers, labels, tau=1.0)
    assert target[0, 1, 0].item() == pytest.approx((0.8 * 0.8 + 0.4 * 0.4) / 1.2)
    assert torch.allclose(target.sum(1), torch.ones(1, 2))  # still probabilities


def test_tau_limits_plain_mean_and_best_teacher():
    teachers = torch.softmax(
        torch.randn(3, 2, 4, 5, 5, generator=torch.Generator().manual_seed(0)), 2
    )
    labels = torch.randint(0, 4, (2, 5, 5), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(adaptive_target(teachers, labels, 1e6), teachers.mean(0), atol=1e-5)
    sharp = teacher_weights(teachers, labels, 1e-4)
    best = teachers.gather(2, labels[None, :, None].expand(3, -1, 1, -1, -1)).squeeze(2).argmax(0)
    assert torch.equal(sharp.argmax(0), best) and math.isclose(
        sharp.max(0).values.min().item(), 1.0, abs_tol=1e-3
    )
    with pytest.raises(ValueError, match="tau"):
        teacher_weights(teachers, labels, 0.0)
