import numpy as np
import pytest

from kdseg.data.crop import body_mask, bounding_box, crop, uncrop
from kdseg.data.normalize import ct_stats, modality_of, normalize_ct, normalize_mr
from kdseg.data.resample import resample_to_shape, shape_for_spacing


def test_shape_for_spacing_keeps_field_of_view():
    assert shape_for_spacing((100, 50, 10), (1.0, 1.0, 8.0), (2.0, 2.0, 4.0)) == (50, 25, 20)
    assert shape_for_spacing((3, 3, 3), (1, 1, 1), (10, 10, 10)) == (1, 1, 1)


def test_label_resampling_is_nearest_and_keeps_values():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 5, (12, 12, 6)).astype(np.uint8)
    up = resample_to_shape(label, (24, 24, 12), order=0)
    assert up.dtype == np.uint8 and set(np.unique(up)) <= set(range(5))
    # each coarse voxel becomes a 2x2x2 block: the voxel edges stay aligned
    np.testing.assert_array_equal(up[::2, ::2, ::2], label)
    np.testing.assert_array_equal(resample_to_shape(up, label.shape, order=0), label)


def test_image_downsampling_is_anti_aliased():
    stripes = np.zeros((66, 8, 8), np.float32)
    stripes[::2] = 1.0  # highest frequency along x: should average out, not alias
    plain = resample_to_shape(stripes, (22, 8, 8), order=1, anti_alias=False)
    smooth = resample_to_shape(stripes, (22, 8, 8), order=1, anti_alias=True)
    assert np.ptp(plain[2:-2]) > 0.9  # aliasing: samples hit only the 1s or only the 0s
    assert np.ptp(smooth[2:-2]) < 0.1 and abs(smooth.mean() - 0.5) < 0.05


def test_body_mask_bbox_crop_and_uncrop():
    image = np.zeros((20, 20, 10), np.float32)
    image[5:15, 4:16, 2:8] = 1.0
    image[8:11, 8:11, 2:8] = 0.0  # a hole (e.g. lungs) inside the body is filled
    mask = body_mask(image, 0.5, smooth_voxels=0)
    assert mask[9, 9, 5]
    box = bounding_box(mask, margin=1)
    assert box == [[4, 16], [3, 17], [1, 9]]
    cut = crop(image, box)
    assert cut.shape == (12, 14, 8)
    np.testing.assert_array_equal(uncrop(cut, box, image.shape), image)
    assert crop(np.stack([image, image]), box).shape == (2, 12, 14, 8)


def test_ct_window_and_percentiles():
    samples = np.linspace(-1000, 1000, 2001)
    win = ct_stats(samples, "window", (-100, 100), (0.5, 99.5))
    assert (win.low, win.high) == (-100, 100)
    assert win.mean == pytest.approx(0.0, abs=1e-6)
    pct = ct_stats(samples, "percentiles", (0, 0), (5, 95))
    assert (pct.low, pct.high) == pytest.approx((-900, 900))
    out = normalize_ct(np.array([-5000.0, 0.0, 5000.0]), win)
    assert out[0] == pytest.approx(-100 / win.sd) and out[2] == pytest.approx(100 / win.sd)


def test_mr_standardised_inside_mask():
    rng = np.random.default_rng(0)
    image = rng.normal(300, 40, (10, 10, 10)).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[2:8, 2:8, 2:8] = True
    out, stats = normalize_mr(image, mask)
    assert out[mask].mean() == pytest.approx(0, abs=1e-5)
    assert out[mask].std() == pytest.approx(1, abs=1e-4)
    assert (out[~mask] == 0).all()
    assert stats["mean"] == pytest.approx(image[mask].mean(), rel=1e-5)


def test_modality_from_channel_name():
    assert modality_of("CT") == "ct"
    assert modality_of("T2") == "mr"
    assert modality_of("CT", override="mr") == "mr"


def test_authors_smoothing_is_their_gaussian_on_every_axis():
    """``resample_images.py:29-34``: sigma 0.5 x new / old spacing on every axis, upsampled
    ones included (ours smooths only the axes that shrink)."""
    from scipy import ndimage

    from kdseg.data.resample import authors_sigma

    rng = np.random.default_rng(0)
    image = rng.normal(size=(20, 16, 6)).astype(np.float32)
    spacing, target = (1.0, 1.0, 5.0), (2.0, 2.0, 2.5)
    sigma = authors_sigma(spacing, target)
    assert sigma == (1.0, 1.0, 0.25)
    shape = shape_for_spacing(image.shape, spacing, target)
    theirs = resample_to_shape(image, shape, order=3, sigma=sigma)
    smoothed = ndimage.gaussian_filter(image, sigma, mode="nearest")
    factors = [n / o for n, o in zip(shape, image.shape, strict=True)]
    expected = ndimage.zoom(smoothed, factors, order=3, mode="nearest", grid_mode=True)
    np.testing.assert_allclose(theirs, expected, atol=1e-6)
    ours = resample_to_shape(image, shape, order=3)
    assert np.abs(theirs - ours).max() > 0.05  # the upsampled z axis: smoothed only by theirs
    # upsampling only: ours does not smooth, theirs does (sigma 0.25 on z)
    up = (20, 16, 12)
    assert not np.allclose(
        resample_to_shape(image, up, 3, sigma=authors_sigma((1, 1, 5), (1, 1, 2.5))),
        resample_to_shape(image, up, 3),
    )
    # labels (order 0) and images not resampled are never smoothed
    label = rng.integers(0, 3, (20, 16, 6)).astype(np.uint8)
    np.testing.assert_array_equal(
        resample_to_shape(label, shape, 0, sigma=sigma), resample_to_shape(label, shape, 0)
    )
    np.testing.assert_array_equal(resample_to_shape(image, image.shape, 3, sigma=sigma), image)
