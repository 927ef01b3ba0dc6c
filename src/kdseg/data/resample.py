"""Resampling between voxel grids that share their field of view (voxel edges aligned)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def shape_for_spacing(
    shape: Sequence[int], spacing: Sequence[float], target: Sequence[float]
) -> tuple[int, ...]:
    """The grid size that covers the same field of view at the ``target`` spacing."""
    return tuple(max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, target, strict=True))


def resample_to_shape(
    array: np.ndarray, shape: Sequence[int], order: int, anti_alias: bool = True
) -> np.ndarray:
    """Resample a 3D array to ``shape`` over the same field of view.

    ``order`` 0 is nearest neighbour (labels), 1 linear, 3 cubic spline (images). When a
    dimension shrinks and ``anti_alias`` is set, a Gaussian of sigma (factor - 1) / 2 voxels is
    applied first along it (the rule of scikit-image), so that downsampling does not alias.
    """
    shape = tuple(int(n) for n in shape)
    if tuple(array.shape) == shape:
        return array.copy()
    factors = [n_out / n_in for n_out, n_in in zip(shape, array.shape, strict=True)]
    work = array
    if anti_alias and order > 0:
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
