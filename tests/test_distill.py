"""Ensembles, soft labels and the KD loss."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kdseg.distill.kd_loss import KDLoss, soften
from kdseg.distill.soft_labels import SCALE, quantise, write_soft_labels
from kdseg.ensemble.networks import Ensemble
from kdseg.errors import ConfigError
from kdseg.models.model_file import load_model
from kdseg.models.windows import predict_probabilities
from kdseg.train.segmentation import train_segmentation_model

ARCH = {"network": "unet3d", "kwargs": {"features": [4, 8]}, "patch": [16, 16, 16]}
TRAINING = {"iterations": 4, "batch_size": 2, "device": "cpu", "loader_workers": 0}


def test_mse_term_is_the_authors_sum_over_classes():
    logits = torch.tensor([[[0.0, 2.0]], [[0.0, 0.0]]]).reshape(1, 2, 2)  # 2 classes, 2 voxels
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).reshape(1, 2, 2)
    p = logits.softmax(1)
    expected = sum(((p[0, c] - target[0, c]) ** 2).mean() for c in range(2))
    loss = KDLoss("mse", hard_weight=0)(logits, target)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_kl_and_soft_ce_with_temperature():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 4, generator=g)
    teacher_logits = torch.randn(2, 3, 4, 4, generator=g)
    q = teacher_logits.softmax(1)
    t = 2.0
    # the temperature applied to one model's probabilities equals softmax(z / T) of its logits
    torch.testing.assert_close(soften(q, t), (teacher_logits / t).softmax(1))
    log_p = F.log_softmax(logits / t, 1)
    qt = (teacher_logits / t).softmax(1)  # the target arrives at temperature T
    kl = F.kl_div(log_p, qt, reduction="none").sum(1).mean() * t * t
    assert KDLoss("kl", t, 0)(logits, qt).item() == pytest.approx(kl.item(), rel=1e-5)
    ce = -(qt * log_p).sum(1).mean() * t * t
    assert KDLoss("soft_ce", t, 0)(logits, qt).item() == pytest.approx(ce.item(), rel=1e-5)
    # KL of identical distributions is 0; soft CE is then the entropy (scaled)
    assert KDLoss("kl", t, 0)(teacher_logits, qt).item() == pytest.approx(0, abs=1e-5)


def test_hard_term_is_weighted_cross_entropy_on_logits():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 5, generator=g, requires_grad=True)
    labels = torch.randint(0, 3, (2, 5), generator=g)
    q = torch.full((2, 3, 5), 1 / 3)
    total = KDLoss("mse", 1.0, 0.1)(logits, q, labels)
    soft = KDLoss("mse", 1.0, 0.0)(logits, q, labels)
    assert (total - soft).item() == pytest.approx(0.1 * F.cross_entropy(logits, labels).item())
    total.backward()
    assert logits.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="unknown"):
        KDLoss("l1")
    with pytest.raises(ConfigError, match="must be > 0"):
        KDLoss("kl", temperature=0)


def test_quantisation_error_is_at_most_half_a_step():
    p = np.random.default_rng(0).dirichlet(np.ones(4), size=1000).T
    q = quantise(p)
    assert q.dtype == np.uint8
    assert np.abs(q * SCALE - p).max() <= 0.5 / 255 + 1e-7


def _teachers(pre, tmp_path, n=2):
    files = []
    for seed in range(1, n + 1):
        out = tmp_path / f"m{seed}"
        out.mkdir()
        train_segmentation_model(
            pre, out / "model.pt", out / "h.csv", out / "h.png", out / "c.pt",
            ARCH, {"name": "ce"}, TRAINING, seed=seed,
        )  # fmt: skip
        files.append(out / "model.pt")
    return files


def test_ensemble_mean_std_and_soft_labels(tiny_preprocessed, tmp_path):
    files = _teachers(tiny_preprocessed, tmp_path)
    image = np.load(tiny_preprocessed / "thorax_000_image.npy")
    members = [load_model(f)[::2] for f in files]
    probs = [predict_probabilities(m, image, s) for m, s in members]
    mean, extra = Ensemble(files, torch.device("cpu"))(image)
    np.testing.assert_allclose(mean, (probs[0] + probs[1]) / 2, atol=1e-6)
    label = mean.argmax(0)
    chosen = np.stack([np.take_along_axis(p, label[None], 0)[0] for p in probs])
    np.testing.assert_allclose(extra["std"], chosen.std(0), atol=1e-5)

    summary = write_soft_labels(files, tiny_preprocessed, tmp_path / "soft", device="cpu")
    manifest = json.loads((tiny_preprocessed / "manifest.json").read_text())
    expected = {c["case"] for c in manifest["cases"] if c["split"] in ("train", "validation")}
    assert {r["case"] for r in summary["cases"]} == expected
    stored = json.loads((tmp_path / "soft" / "soft_labels.json").read_text())
    assert stored["storage"] == stored["dtype"] == "uint8"
    assert math.isfinite(stored["mean_dice_change"])
    assert stored["bytes_stored"] < stored["bytes_float32_equivalent"] / 3
    assert stored["max_abs_error"] <= 0.5 / 255 + 1e-6 and stored["max_target_error"] == {}
    case = sorted(expected)[0]
    q = np.load(tmp_path / "soft" / f"{case}.npy", mmap_mode="r")
    assert q.dtype == np.uint8 and q.shape[0] == 5


def test_soft_dice_term_is_monai_dice_of_probabilities_and_lifts_small_structures():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 3, 6, 6, generator=g)
    target = torch.randn(2, 3, 6, 6, generator=g).softmax(1)
    base = KDLoss("kl", 1.0, 0.0)(logits, target)
    with_dice = KDLoss("kl", 1.0, 0.0, soft_dice_weight=0.5)(logits, target)
    p = logits.softmax(1)[:, 1:]
    q = target[:, 1:]  # background excluded, sums pooled over the batch
    dims = (0, 2, 3)
    dice = 1 - (2 * (p * q).sum(dims) + 1e-5) / (p.sum(dims) + q.sum(dims) + 1e-5)
    assert (with_dice - base).item() == pytest.approx(0.5 * dice.mean().item(), rel=1e-5)
    assert KDLoss("kl", soft_dice_weight=0).soft_dice is None
    with pytest.raises(ConfigError, match="soft_dice_weight"):
        KDLoss("kl", soft_dice_weight=-1)

    # a structure of 2 voxels in 400 that the student misses: the voxel-averaged soft terms
    # barely move its logits; the soft Dice term pushes them as hard as a large structure's
    logits = torch.zeros(1, 2, 20, 20)
    logits[:, 0] = 4.0  # the student is sure it is all background
    target = torch.zeros(1, 2, 20, 20)
    target[:, 0] = 1.0
    target[0, :, 0, :2] = torch.tensor([[0.2, 0.2], [0.8, 0.8]])  # the ensemble sees it
    grads = {}
    losses = {
        "mse": KDLoss("mse", 1.0, 0.0),
        "kl": KDLoss("kl", 1.0, 0.0),
        "kl+dice": KDLoss("kl", 1.0, 0.0, soft_dice_weight=1.0),
    }
    for name, loss in losses.items():
        z = logits.clone().requires_grad_(True)
        loss(z, target).backward()
        grads[name] = -z.grad[0, 1, 0, :2].mean().item()  # push towards the structure
    assert 0 < grads["mse"] < grads["kl"] < grads["kl+dice"]
    assert grads["kl+dice"] > 2 * grads["kl"] and grads["kl"] > 10 * grads["mse"]
