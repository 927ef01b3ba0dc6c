"""The authors' rotation batched on the training device (``training.rotate_on``, issue 32)
against the per-patch rotation of the loader: the same batches within the stated tolerance
(docs/guarantees.md), on the CPU device here; and a tiny training run with it forced on."""

import csv
import logging

import numpy as np
import pytest
import torch
from conftest import REPO

from kdseg import config as kdcfg
from kdseg.errors import ConfigError
from kdseg.train.augmentation import SOFT_TARGET_ORDERS, Augmentation
from kdseg.train.device_rotation import rotate_batch, rotation_on_device
from kdseg.train.sampler import CaseArrays, PatchSampler
from kdseg.train.segmentation import train_segmentation_model

IMAGE_TOLERANCE = 1e-5
"""Images: at most this times the batch's largest absolute image value apart (float32
rounding of the spline prefilter); labels and soft targets: equal."""


def _cases(channels: int, scale: float, n: int = 2, shape=(30, 28, 20)) -> list[CaseArrays]:
    """Cases of three classes with noisy images of ``channels`` channels (values about
    ``scale``) and soft targets that are not one-hot."""
    rng = np.random.default_rng(0)
    cases = []
    for i in range(n):
        label = np.zeros(shape, np.uint8)
        label[8:20, 6:18, 5:15] = 1
        label[12:15, 10:13, 8:11] = 2
        image = scale * (label + rng.normal(0, 0.3, (channels, *shape)))
        soft = 0.8 * np.eye(3, dtype=np.float32)[label].transpose(3, 0, 1, 2) + 0.2 / 3
        cases.append(CaseArrays(f"c{i}", image.astype(np.float32), label, {"soft": soft}))
    return cases


PATCHES = {
    "3d": dict(patch=(16, 16, 12), margin=2, channels=1, scale=1.0, prob=None),
    "3d-two-channels-half-rotated": dict(
        patch=(14, 16, 10), margin=1, channels=2, scale=300.0, prob=0.5
    ),
    "2d": dict(patch=(17, 15), margin=3, channels=1, scale=1000.0, prob=None),
    "2d-no-margin": dict(patch=(16, 16), margin=0, channels=1, scale=1.0, prob=None),
}


@pytest.mark.parametrize("soft", sorted(SOFT_TARGET_ORDERS))
@pytest.mark.parametrize("name", sorted(PATCHES))
def test_device_rotation_equals_the_per_patch_rotation(name, soft):
    """The authors' distribution (N(0, 10 degrees), 3D: a random plane of three), a valid
    margin, soft targets linear or nearest: every key of every batch as the loader's."""
    p = PATCHES[name]
    aug = Augmentation(soft_target_rotation=soft, rotate_prob=p["prob"])
    cases = _cases(p["channels"], p["scale"])
    common = dict(patch=p["patch"], batch_size=12, seed=4, margin=p["margin"], augmentation=aug)
    cpu = PatchSampler(cases, 3, **common)
    device = PatchSampler(cases, 3, **common, device_rotation=True)
    planes, unrotated = set(), 0
    for i in range(4):
        assert device.plan(i) == cpu.plan(i)  # the same random choices
        want = cpu.batch(i)
        cut = device.batch(i)
        assert cut["image"].shape == want["image"].shape
        assert cut["label"].shape[1:] == p["patch"]  # the targets keep their context
        planes |= {int(q) for q in cut["rotation"][:, 2]}
        unrotated += int((cut["rotation"][:, 2] < 0).sum())
        got = rotate_batch({k: torch.from_numpy(v) for k, v in cut.items()}, p["margin"],
                           SOFT_TARGET_ORDERS[soft])  # fmt: skip
        assert set(got) == set(want)
        for key, value in want.items():
            assert got[key].dtype == torch.from_numpy(value).dtype, key
            assert tuple(got[key].shape) == value.shape, key
        np.testing.assert_array_equal(got["label"].numpy(), want["label"])
        np.testing.assert_array_equal(got["soft"].numpy(), want["soft"])
        atol = IMAGE_TOLERANCE * np.abs(want["image"]).max()
        np.testing.assert_allclose(got["image"].numpy(), want["image"], rtol=0, atol=atol)
        assert not np.allclose(cut["image"], want["image"], atol=atol)  # rotated here, not before
    assert planes == ({-1, 0, 1, 2} if p["prob"] else {0, 1, 2} if len(p["patch"]) == 3 else {0})
    assert (unrotated > 0) == bool(p["prob"])


def test_where_the_rotation_runs():
    authors, cuda, cpu = Augmentation(), torch.device("cuda"), torch.device("cpu")
    assert rotation_on_device("auto", cuda, authors)
    assert not rotation_on_device("auto", cpu, authors)
    assert rotation_on_device("device", cpu, authors)
    assert not rotation_on_device("cpu", cuda, authors)
    # nothing to rotate: the loader's path
    assert not rotation_on_device("device", cuda, Augmentation(rotate_prob=0))
    noisy = Augmentation(noise_std=0.1, noise_prob=0.5)
    assert not rotation_on_device("auto", cuda, noisy)  # MONAI's noise follows the rotation
    with pytest.raises(ConfigError, match=r"training\.rotate_on: device .* set rotate_on: cpu"):
        rotation_on_device("device", cuda, noisy)
    with pytest.raises(ConfigError, match=r"training\.rotate_on: device"):
        rotation_on_device("device", cuda, Augmentation(rotation="uniform"))
    with pytest.raises(ConfigError, match=r"training\.rotate_on: 'gpu'; choose one of"):
        rotation_on_device("gpu", cuda, authors)


def test_rotate_on_is_no_job_param():
    """Like ``device``: the jobs read it from the config; changing it re-runs nothing."""
    config = kdcfg.load_config(REPO / "config" / "config.yaml")
    dataset, arch = next(iter(config["datasets"])), next(iter(config["architectures"]))
    config["training"]["rotate_on"] = "device"
    assert "rotate_on" not in kdcfg.learning_settings(config, dataset, arch)
    assert kdcfg.runtime_settings(config, dataset, arch)["rotate_on"] == "device"


DILATED = {"network": "dilated2d", "kwargs": {"features": 4, "dilations": [1, 2, 1], "head": [8]},
           "patch": [17, 17], "orientations": [0, 2]}  # fmt: skip


def _losses(pre, out, caplog, **training):
    out.mkdir()
    settings = {"iterations": 4, "batch_size": 3, "validate_every": 4, "device": "cpu",
                "amp": False, **training}  # fmt: skip
    with caplog.at_level(logging.INFO, logger="kdseg"):
        train_segmentation_model(
            pre, out / "model.pt", out / "h.csv", out / "h.png", out / "ckpt.pt", DILATED,
            {"name": "ce+dice"}, settings, seed=3, name="t",
        )  # fmt: skip
    assert (out / "model.pt").exists() and not (out / "ckpt.pt").exists()
    with open(out / "h.csv") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def test_a_tiny_training_run_rotates_on_the_device(tiny_preprocessed, tmp_path, caplog):
    """rotate_on: device on the CPU device, with a loader worker: the run ends, and its losses
    are those of the loader's rotation within float rounding (the same batches)."""
    on_device = _losses(tiny_preprocessed, tmp_path / "device", caplog, rotate_on="device",
                        loader_workers=1)  # fmt: skip
    assert "the authors' rotation batched on cpu (training.rotate_on)" in caplog.text
    caplog.clear()
    in_loader = _losses(tiny_preprocessed, tmp_path / "cpu", caplog, loader_workers=0)
    assert "batched on" not in caplog.text  # auto on the CPU: the loader rotates
    assert len(on_device) == 4 and np.isfinite(on_device).all()
    np.testing.assert_allclose(on_device, in_loader, rtol=1e-4)
