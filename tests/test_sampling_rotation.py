"""The authors' rotation augmentation (issue 15, item 2) against computations of its own.

The authors' ``random_rotation`` (their ``src/data_augmentation.py``:25-92) rotates every patch
by an angle ~ N(0, 10 degrees): 2D patches in their plane, 3D patches in one of the three
planes (``np.random.shuffle([0, 1, 2])``, the first two axes), with
``scipy.ndimage.rotate(..., reshape=False, mode="reflect")`` (spline order 3) for images and
order 0 for masks. Here: the distribution of the drawn angles and planes over many patches,
and the interpolation (cubic spline, reflect padding) on test images.
"""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage, stats

from kdseg.errors import ConfigError
from kdseg.train.augmentation import PLANES, Augmentation
from kdseg.train.rotation import rotate_patch, rotate_plane
from kdseg.train.sampler import CaseArrays, PatchSampler


def _cases(n=2, shape=(30, 28, 20), seed=0):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        label = np.zeros(shape, np.uint8)
        label[8:20, 6:18, 5:15] = 1
        label[12:15, 10:13, 8:11] = 2
        image = (label + rng.normal(0, 0.2, shape)).astype(np.float32)[None]
        soft = np.eye(3, dtype=np.float32)[label].transpose(3, 0, 1, 2)
        cases.append(CaseArrays(f"c{i}", image, label, {"soft": soft}))
    return cases


def _rotations(sampler, iterations):
    return [p.rotation for i in range(iterations) for p in sampler.plan(i)]


@pytest.mark.parametrize("patch", [(12, 12, 12), (16, 16)], ids=["3d", "2d"])
def test_every_patch_is_rotated_by_a_normal_angle_of_sd_10(patch):
    s = PatchSampler(_cases(), 3, patch, 50, seed=1, augmentation=Augmentation())
    rotations = _rotations(s, 120)  # 6000 patches
    assert all(r is not None for r in rotations)  # every patch (rotate_prob null: 1)
    angles = np.array([r[0] for r in rotations])
    n = len(angles)
    assert abs(angles.mean()) < 4 * 10 / np.sqrt(n)  # mean 0
    assert abs(angles.std(ddof=1) - 10) < 4 * 10 / np.sqrt(2 * (n - 1))  # sd 10 degrees
    assert stats.kstest(angles, "norm", args=(0, 10)).pvalue > 1e-3
    planes = [r[1] for r in rotations]
    if len(patch) == 2:
        assert set(planes) == {(0, 1)}  # a slice rotates in its own plane
    else:  # one of the three planes, uniformly
        counts = np.array([planes.count(p) for p in PLANES])
        assert stats.chisquare(counts).pvalue > 1e-3, counts
        assert counts.min() > 0.3 * n


def test_rotation_settings_change_the_draws():
    s = PatchSampler(
        _cases(), 3, (12, 12, 12), 50, seed=1,
        augmentation=Augmentation(rotate_axes="axial", rotate_prob=0.5, rotate_sigma_degrees=5),
    )  # fmt: skip
    rotations = _rotations(s, 40)
    rotated = [r for r in rotations if r is not None]
    assert abs(len(rotated) - 1000) < 4 * np.sqrt(2000 * 0.25)  # probability 0.5
    assert {r[1] for r in rotated} == {(0, 1)}  # axial plane only
    assert abs(np.std([r[0] for r in rotated]) - 5) < 0.5
    none = PatchSampler(
        _cases(), 3, (12, 12, 12), 5, seed=1, augmentation=Augmentation(rotate_prob=0)
    )
    assert all(r is None for r in _rotations(none, 5))


def test_uniform_rotation_stays_available():
    aug = Augmentation(rotation="uniform")
    assert aug.probability == 0.5 and aug.axes == "axial"
    assert aug.draw_rotation(np.random.default_rng(0), 3) is None  # MONAI draws it
    assert type(aug.transform(3, []).transforms[0]).__name__ == "RandRotated"
    assert Augmentation().transform(3, []) is None  # the authors': no MONAI step
    with pytest.raises(ConfigError, match=r"augmentation\.rotate_degrees .* rotation: uniform"):
        Augmentation.from_config({"rotate_degrees": 10, "rotate_prob": 0.5})
    with pytest.raises(ConfigError, match=r"augmentation\.rotate_axes: 'all' with rotation"):
        Augmentation(rotate_axes="all")
    with pytest.raises(ConfigError, match=r"augmentation\.rotation: 'gaussian'"):
        Augmentation(rotation="gaussian")


def _cubic(shape):
    """f(x, y) = a cubic polynomial of the coordinates (scaled to order 1)."""
    x, y = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    u, v = (x - shape[0] / 2) / 10, (y - shape[1] / 2) / 10
    return u**3 - 2 * u * v + 0.5 * v**2 + 1, (u, v)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_rotation_equals_scipy_rotate_with_reflect_padding(order):
    """rotate_plane is scipy.ndimage.rotate(reshape=False, mode='reflect') (the authors' call,
    data_augmentation.py:57, :73-79), computed with torch's grid_sample: every plane, angles
    with corners from outside the patch, non-square planes, a cut to the output region."""
    rng = np.random.default_rng(order)
    cases = [((1, 20, 17), (0, 1)), ((2, 16, 13, 9), (0, 1)), ((1, 16, 13, 9), (0, 2))]
    cases += [((3, 15, 13, 9), (1, 2))]
    for shape, plane in cases:
        if order == 0:
            array = rng.integers(0, 4, size=shape).astype(np.float32)
        else:
            array = rng.normal(size=shape).astype(np.float32)
        axes = (plane[0] + 1, plane[1] + 1)
        for angle in (-23.0, 7.3, 0.0, 90.0, 181.0, float(rng.normal(0, 10))):
            want = ndimage.rotate(array, angle, axes, reshape=False, order=order, mode="reflect")
            for crop in (0, 2):
                got = rotate_plane(array, angle, plane, order, crop)
                cut = [slice(None)] * array.ndim
                for a in axes:
                    cut[a] = slice(crop, array.shape[a] - crop)
                if order == 0:
                    np.testing.assert_array_equal(got, want[tuple(cut)])
                else:
                    np.testing.assert_allclose(got, want[tuple(cut)], atol=5e-5)


def test_images_are_interpolated_by_cubic_splines():
    """Cubic splines reproduce a cubic polynomial exactly (away from the border); linear
    interpolation does not."""
    shape, angle = (64, 64), 17.0
    f, _ = _cubic(shape)
    rotated = rotate_patch({"image": f[None].astype(np.float64)}, angle, (0, 1))["image"][0]
    # the rotation maps output point p to input point c + R(-angle) (p - c), scipy's convention
    c = (np.array(shape) - 1) / 2
    t = np.radians(angle)
    x, y = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    sx = c[0] + np.cos(t) * (x - c[0]) + np.sin(t) * (y - c[1])
    sy = c[1] - np.sin(t) * (x - c[0]) + np.cos(t) * (y - c[1])
    su, sv = (sx - shape[0] / 2) / 10, (sy - shape[1] / 2) / 10
    exact = su**3 - 2 * su * sv + 0.5 * sv**2 + 1
    inside = (slice(20, 44), slice(20, 44))
    assert np.abs(rotated - exact)[inside].max() < 1e-4  # float32 rounding: 1.3e-6
    linear = ndimage.rotate(f, angle, reshape=False, order=1, mode="reflect")
    assert np.abs(linear - exact)[inside].max() > 5e-3  # 0.011


def test_padding_reflects_the_patch():
    """Where a corner of the rotated patch comes from outside it, the value is the image
    mirrored at its edge (scipy 'reflect': about the voxel edge), not a constant or the edge."""
    shape, angle = (40, 40), 30.0
    ramp = np.tile(np.arange(shape[0], dtype=float)[:, None], (1, shape[1]))  # f = x
    rotated = rotate_patch({"image": ramp[None]}, angle, (0, 1))["image"][0]
    c, t = (np.array(shape) - 1) / 2, np.radians(angle)
    x, y = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    sx = c[0] + np.cos(t) * (x - c[0]) + np.sin(t) * (y - c[1])
    mirrored = np.where(
        sx < -0.5, -1 - sx, np.where(sx > shape[0] - 0.5, 2 * shape[0] - 1 - sx, sx)
    )
    far = (sx < -4) | (sx > shape[0] + 3)  # 3+ voxels outside: away from the mirror's kink
    assert far.sum() > 20
    assert np.abs(rotated - mirrored)[far].max() < 1e-2
    constant = ndimage.rotate(ramp, angle, reshape=False, mode="constant")
    assert np.abs(constant - mirrored)[far].max() > 1


def test_a_sampled_patch_is_its_window_rotated_as_the_authors_rotate():
    """Image: scipy.ndimage.rotate order 3, reflect (the authors' call); label: nearest;
    soft targets: linear (ours), still probabilities."""
    s = PatchSampler(_cases(), 3, (16, 16, 16), 4, seed=3, augmentation=Augmentation())
    for plan in s.plan(0):
        angle, plane = plan.rotation
        raw = s.cut(dataclasses.replace(plan, rotation=None))
        got = s.cut(plan)
        axes = (plane[0] + 1, plane[1] + 1)
        for key, order in (("image", 3), ("soft", 1)):
            want = ndimage.rotate(raw[key], angle, axes, reshape=False, order=order, mode="reflect")
            np.testing.assert_allclose(got[key], want, atol=1e-4)
        want = ndimage.rotate(
            raw["label"][None], angle, axes, reshape=False, order=0, mode="reflect"
        )
        np.testing.assert_array_equal(got["label"], want[0])
        assert set(np.unique(got["label"])) <= {0.0, 1.0, 2.0}
        assert got["soft"].min() >= -1e-6 and got["soft"].max() <= 1 + 1e-6
        np.testing.assert_allclose(got["soft"].sum(0), 1, atol=1e-5)
        assert (got["soft"].argmax(0) == got["label"]).mean() > 0.97


def test_rotation_is_deterministic_in_seed_and_iteration():
    a = PatchSampler(_cases(), 3, (12, 12, 12), 6, seed=9, augmentation=Augmentation())
    b = PatchSampler(_cases(), 3, (12, 12, 12), 6, seed=9, augmentation=Augmentation())
    b.batch(3)
    assert a.plan(4) == b.plan(4)
    for key, value in a.batch(4).items():
        np.testing.assert_array_equal(value, b.batch(4)[key])
    assert a.plan(4) != a.plan(5)


def test_schema_defaults_are_the_authors_and_refuse_a_uniform_key_with_them():
    import jsonschema
    import yaml

    from kdseg.config import SCHEMA

    defs = yaml.safe_load(SCHEMA.read_text())["$defs"]
    props = defs["training"]["properties"]
    assert props["sampling"]["properties"]["rule"]["default"] == "authors"
    assert props["augmentation"]["properties"]["rotation"]["default"] == "authors"
    assert props["augmentation"]["properties"]["rotate_sigma_degrees"]["default"] == 10
    validator = jsonschema.Draft202012Validator({"$ref": "#/$defs/training", "$defs": defs})
    assert validator.is_valid({"augmentation": {"rotation": "uniform", "rotate_degrees": 10}})
    assert validator.is_valid({"augmentation": {"rotate_sigma_degrees": 10}})
    errors = list(validator.iter_errors({"augmentation": {"rotate_degrees": 10}}))
    assert [list(e.absolute_path) for e in errors] == [["augmentation", "rotate_degrees"]]


@pytest.mark.parametrize("patch", [(21, 21), (17, 17, 17)], ids=["2d", "3d"])
def test_targets_rotate_with_their_context_then_are_cut_to_the_output_region(patch):
    kw = dict(orientations=(0, 1, 2), seed=3)
    s = PatchSampler(_cases(), 3, patch, 4, margin=5, augmentation=Augmentation(), **kw)
    full = PatchSampler(_cases(), 3, patch, 4, margin=0, **kw)  # cuts the same windows whole
    inner = (slice(5, -5),) * len(patch)
    for plan in s.plan(0):
        angle, plane = plan.rotation
        raw = full.cut(dataclasses.replace(plan, rotation=None))
        got = s.cut(plan)
        assert got["image"].shape == (1, *patch) and got["soft"].shape == (
            3,
            *[p - 10 for p in patch],
        )
        axes = (plane[0] + 1, plane[1] + 1)
        want = ndimage.rotate(
            raw["label"][None], angle, axes, reshape=False, order=0, mode="reflect"
        )
        np.testing.assert_array_equal(got["label"], want[0][inner])
        want = ndimage.rotate(raw["soft"], angle, axes, reshape=False, order=1, mode="reflect")
        np.testing.assert_allclose(got["soft"], want[(slice(None), *inner)], atol=1e-4)
        want = ndimage.rotate(raw["image"], angle, axes, reshape=False, order=3, mode="reflect")
        np.testing.assert_allclose(got["image"], want, atol=1e-4)


def test_loader_workers_give_the_same_rotated_batches():
    """The rotation runs torch in forked loader workers: same batches as in-process."""
    import torch

    from kdseg.train.batches import batch_loader

    s = PatchSampler(_cases(), 3, (12, 12, 12), 3, seed=4, augmentation=Augmentation())
    batches = list(batch_loader(s, 2, 6, workers=2, device=torch.device("cpu")))
    assert len(batches) == 4
    for i, batch in zip(range(2, 6), batches, strict=True):
        for key, value in s.batch(i).items():
            np.testing.assert_array_equal(np.asarray(batch[key]), value)


def test_nearest_soft_target_rotation_keeps_one_hot_targets_equal_to_the_labels():
    """``soft_target_rotation: nearest``: soft targets rotate as the labels do, so targets
    made from the labels stay exactly the labels (linear blurs their borders)."""
    nearest = Augmentation(soft_target_rotation="nearest")
    s = PatchSampler(_cases(), 3, (16, 16, 16), 4, seed=3, augmentation=nearest)
    linear = PatchSampler(_cases(), 3, (16, 16, 16), 4, seed=3, augmentation=Augmentation())
    blurred = 0
    for plan in s.plan(0):
        got = s.cut(plan)
        np.testing.assert_array_equal(got["soft"].argmax(0), got["label"])
        assert set(np.unique(got["soft"])) <= {0.0, 1.0}
        blurred += int(((linear.cut(plan)["soft"] > 0) & (linear.cut(plan)["soft"] < 1)).sum())
    assert blurred > 0  # linear interpolation leaves fractional targets at borders
    with pytest.raises(ConfigError, match="soft_target_rotation"):
        Augmentation(soft_target_rotation="cubic")
