"""Lovász-softmax loss (Berman, Rannen Triki, Blaschko, CVPR 2018).

A convex surrogate of the Jaccard (IoU) loss: per class c, the voxels' errors
``m_i = |[y_i = c] - p_i,c|`` are sorted in decreasing order and weighted by the increments of
the Jaccard loss ``Δ(M) = |M| / |{y = c} ∪ M|`` of the growing set of the worst voxels (the
Lovász extension of Δ). For hard predictions it equals ``1 - IoU`` exactly. Used by the feature
distillation of Ben Loussaief et al. (METHODS 2a); MONAI has no Lovász loss.
"""

from __future__ import annotations

import torch


def lovasz_grad(foreground_sorted: torch.Tensor) -> torch.Tensor:
    """Increments of the Jaccard loss along voxels sorted by decreasing error.

    ``foreground_sorted``: (P,) 0/1 membership of class c in that order.
    """
    total = foreground_sorted.sum()
    intersection = total - foreground_sorted.cumsum(0)
    union = total + (1.0 - foreground_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if jaccard.numel() > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def lovasz_softmax(
    probabilities: torch.Tensor,
    labels: torch.Tensor,
    include_background: bool = True,
    only_present: bool = True,
) -> torch.Tensor:
    """Mean over classes of the Lovász extension of the Jaccard loss, over the whole batch.

    ``probabilities``: (N, K, ...) softmax outputs; ``labels``: (N, ...) integer classes.
    ``only_present``: classes absent from ``labels`` are skipped (Berman et al.'s default), so a
    patch without a structure does not push that class's probabilities to zero everywhere.
    """
    num_classes = probabilities.shape[1]
    flat = probabilities.movedim(1, -1).reshape(-1, num_classes)
    target = labels.reshape(-1)
    losses = []
    for c in range(0 if include_background else 1, num_classes):
        foreground = (target == c).to(flat.dtype)
        if only_present and foreground.sum() == 0:
            continue
        errors = (foreground - flat[:, c]).abs()
        errors_sorted, order = torch.sort(errors, descending=True)
        losses.append(torch.dot(errors_sorted, lovasz_grad(foreground[order])))
    if not losses:
        return flat.sum() * 0.0  # keeps the graph: zero loss, zero gradient
    return torch.stack(losses).mean()
