"""Resampling between voxel grids that share their field of view (voxel edges aligned).

Images are smoothed before they are resampled, by one of :data:`SMOOTHING_RULES`: ``ours``
(a Gaussian of sigma (factor - 1) / 2 voxels along the axes that shrink, scikit-image's rule) or
``authors`` (a Gaussian of sigma 0.5 x new / old spacing along every axis, upsampled ones
included: the authors' ``resample_images.py:29-34``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def shape_for_spacing(
    shape: Sequence[int], spacing: Sequence[float], target: Sequence[float]
) -> tuple[int, ...]:
    """The grid size that covers the same field of view at the ``target`` spacing."""
    return tuple(max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, target, strict=True))


SMOOTHING_RULES = ("ours", "authors")


def authors_sigma(spacing: Sequence[float], target: Sequence[float]) -> tuple[float, ...]:
    """The authors' smoothing before resampling: sigma = 0.5 x new / old spacing (voxels) on
    every axis (``resample_images.py:30-31``)."""
    return tuple(0.5 * t / s for s, t in zip(spacing, target, strict=True))


def resample_to_shape(
    array: np.ndarray,
    shape: Sequence[int],
    order: int,
    anti_alias: bool = True,
    sigma: Sequence[float] | None = None,
) -> np.ndarray:
    """Resample a 3D array to ``shape`` over the same field of view.

    ``order`` 0 is nearest neighbour (labels), 1 linear, 3 cubic spline (images). When a
    dimension shrinks and ``anti_alias`` is set, a Gaussian of sigma (factor - 1) / 2 voxels is
    applied first along it (the rule of scikit-image), so that downsampling does not alias.
    ``sigma`` (voxels per axis, e.g. :func:`authors_sigma`) replaces that rule: a Gaussian of
    these sigmas on every axis (with ``anti_alias`` and ``order`` > 0 only). An array already
    of ``shape`` is returned unchanged (not resampled, not smoothed).
    """
    shape = tuple(int(n) for n in shape)
    if tuple(array.shape) == shape:
        return array.copy()
    factors = [n_out / n_in for n_out, n_in in zip(shape, array.shape, strict=True)]
    work = array
    if anti_alias and order > 0:
        if sigma is None:
            sigma = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
        if any(s > 0 for s in sigma):
            work = ndimage.gaussian_filter(array.astype(np.float32), sigma=sigma, mode="nearest")
    out = ndimage.zoom(
        work, factors, order=order, mode="nearest", grid_mode=True, prefilter=order > 1
    )
    # zoom rounds the output size; enforce the exact requested shape
    if out.shape != shape:
        pad = [(0, max(0, n - o)) for n, o in zip(shape, out.shape, strict=True)]
        out = np.pad(out, pad, mode="edge")[tuple(slice(0, n) for n in shape)]
    return out.astype(array.dtype, copy=False)
