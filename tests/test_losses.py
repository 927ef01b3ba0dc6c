import pytest
import torch
import torch.nn.functional as F

from kdseg.errors import ConfigError
from kdseg.models.losses import build_loss


def _data(seed=0, k=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, k, 6, 5, 4, generator=g), torch.randint(0, k, (2, 6, 5, 4), generator=g)


def test_cross_entropy_is_on_logits_with_class_weights():
    logits, labels = _data()
    assert build_loss({"name": "ce"}, 3)(logits, labels) == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6
    )
    w = [0.2, 1.0, 3.0]
    weighted = build_loss({"name": "ce", "class_weights": w}, 3)(logits, labels)
    assert weighted == pytest.approx(
        F.cross_entropy(logits, labels, weight=torch.tensor(w)).item(), rel=1e-6
    )


def test_soft_dice_without_background_pools_the_batch():
    logits, labels = _data()
    probs = logits.softmax(1)
    onehot = F.one_hot(labels, 3).permute(0, 4, 1, 2, 3).float()
    dims = (0, 2, 3, 4)  # batch pooled
    inter = (probs * onehot).sum(dims)[1:]
    denom = (probs.sum(dims) + onehot.sum(dims))[1:]
    expected = (1 - (2 * inter + 1e-5) / (denom + 1e-5)).mean()
    no_bg = build_loss({"name": "dice", "include_background": False}, 3)(logits, labels)
    assert no_bg == pytest.approx(expected.item(), 1e-5)
    assert build_loss({"name": "dice"}, 3)(logits, labels) != pytest.approx(expected.item(), 1e-4)


def test_default_dice_charges_background_labelled_as_a_structure_absent_from_the_batch():
    """Background voxels predicted as class 2, which the batch lacks: without the background
    term this costs nothing (the failure of the default study's Dice teachers); with it
    (the default, as the authors) it is worse than predicting background."""
    labels = torch.zeros(2, 4, 4, 4, dtype=torch.long)
    labels[:, 1:3, 1:3, 1:3] = 1  # class 1 present, class 2 absent
    right = F.one_hot(labels, 3).permute(0, 4, 1, 2, 3).float() * 4  # a network's soft output
    wrong = right.clone()
    background = labels == 0
    wrong[:, 0][background], wrong[:, 2][background] = 0.0, 4.0
    no_bg = build_loss({"name": "dice", "include_background": False}, 3)
    assert no_bg(wrong, labels) == pytest.approx(no_bg(right, labels).item(), abs=0.01)
    default = build_loss({"name": "dice"}, 3)
    assert default(wrong, labels) > default(right, labels) + 0.3


def test_perfect_prediction_and_sum():
    _, labels = _data()
    perfect = F.one_hot(labels, 3).permute(0, 4, 1, 2, 3).float() * 50
    assert build_loss({"name": "dice"}, 3)(perfect, labels) < 1e-4
    logits, labels = _data(1)
    ce = build_loss({"name": "ce"}, 3)(logits, labels)
    dice = build_loss({"name": "dice"}, 3)(logits, labels)
    assert build_loss({"name": "ce+dice"}, 3)(logits, labels) == pytest.approx(
        (ce + dice).item(), rel=1e-6
    )


def test_gradients_reach_logits():
    logits, labels = _data()
    logits.requires_grad_(True)
    build_loss({"name": "ce+dice"}, 3)(logits, labels).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_bad_loss_settings():
    with pytest.raises(ConfigError, match="unknown"):
        build_loss({"name": "focal"}, 3)
    with pytest.raises(ConfigError, match="class_weights has 2 values for 3"):
        build_loss({"name": "ce", "class_weights": [1, 2]}, 3)
    with pytest.raises(ConfigError, match="bad arguments"):
        build_loss({"name": "ce", "gamma": 2}, 3)
