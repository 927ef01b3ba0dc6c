"""Lovász-softmax against a brute-force Lovász extension and the exact IoU of hard masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kdseg.models.lovasz import lovasz_softmax


def jaccard_loss_of_set(mistakes: set[int], foreground: set[int]) -> float:
    """Δ(M) = |M| / |foreground ∪ M| (0 for an empty union)."""
    union = foreground | mistakes
    return len(mistakes) / len(union) if union else 0.0


def brute_force_lovasz(errors: np.ndarray, foreground: set[int]) -> float:
    """The Lovász extension by its definition: set function evaluated on every prefix."""
    order = np.argsort(-errors, kind="stable")
    total, previous, prefix = 0.0, 0.0, set()
    for i in order:
        prefix.add(int(i))
        current = jaccard_loss_of_set(prefix, foreground)
        total += errors[i] * (current - previous)
        previous = current
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lovasz_softmax_equals_brute_force_extension(seed):
    rng = np.random.default_rng(seed)
    logits = torch.tensor(rng.normal(size=(1, 3, 3, 2)), dtype=torch.float64)
    labels = torch.tensor(rng.integers(0, 3, size=(1, 3, 2)))
    probs = torch.softmax(logits, 1)
    p = probs[0].reshape(3, -1).numpy()
    y = labels.reshape(-1).numpy()
    expected = []
    for c in range(3):
        fg = set(np.flatnonzero(y == c).tolist())
        if fg:
            expected.append(brute_force_lovasz(np.abs((y == c) - p[c]), fg))
    assert lovasz_softmax(probs, labels).item() == pytest.approx(np.mean(expected), abs=1e-12)


def test_hard_predictions_give_one_minus_iou():
    labels = torch.tensor([[0, 1, 1, 2, 2, 2]])
    predicted = torch.tensor([[0, 1, 2, 2, 2, 1]])
    probs = torch.nn.functional.one_hot(predicted, 3).movedim(-1, 1).double()
    ious = []
    for c in range(3):
        p, r = predicted == c, labels == c
        ious.append((p & r).sum().item() / (p | r).sum().item())
    assert lovasz_softmax(probs, labels).item() == pytest.approx(1 - np.mean(ious))
    assert lovasz_softmax(torch.nn.functional.one_hot(labels, 3).movedim(-1, 1).double(),
                          labels).item() == 0.0  # fmt: skip


def test_absent_classes_skipped_and_gradient_flows():
    logits = torch.zeros(1, 3, 4, requires_grad=True)
    labels = torch.tensor([[1, 1, 2, 2]])  # background absent
    loss = lovasz_softmax(torch.softmax(logits, 1), labels)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    only_fg = lovasz_softmax(torch.softmax(logits, 1), labels, include_background=False)
    assert only_fg.item() == pytest.approx(loss.item())  # background was skipped anyway
