"""The authors' rotation of a patch: ``scipy.ndimage.rotate`` (reflect padding) by plane, as
one ``torch.grid_sample`` call per array, with a spline order per key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage, special

from kdseg.train.augmentation import PLANES

ROTATION_ORDER = {"image": 3, "label": 0}
"""Spline order of the authors' rotation per key: cubic for images (scipy's default, as the
authors' ``scipy.ndimage.rotate`` calls), nearest for labels (their order 0); other keys (soft
targets): linear (ours; the authors rotate soft probabilities with cubic splines, which
overshoot [0, 1]): stored probabilities stay probabilities summing to 1, stored
log-probabilities (T != 1) are interpolated in log space and renormalised by the target's
softmax."""


def _source_coordinates(
    shape: Sequence[int], angle: float, crop: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The input coordinates (float64, index units) that ``scipy.ndimage.rotate(angle,
    reshape=False)`` samples in an (H, W) plane for the output voxels ``crop..H-crop`` x
    ``crop..W-crop``: ``c + R (p - c)`` about the centre ``c = (shape - 1) / 2``."""
    H, W = shape
    cos, sin = float(special.cosdg(angle)), float(special.sindg(angle))
    ci, cj = (H - 1) / 2, (W - 1) / 2
    i = torch.arange(crop, H - crop, dtype=torch.float64)[:, None] - ci
    j = torch.arange(crop, W - crop, dtype=torch.float64)[None, :] - cj
    return ci + cos * i + sin * j, cj - sin * i + cos * j


def _grid(pi: torch.Tensor, pj: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Index coordinates as ``grid_sample`` coordinates (align_corners=False; x is W)."""
    H, W = shape
    return torch.stack([(2 * pj + 1) / W - 1, (2 * pi + 1) / H - 1], -1).to(torch.float32)


def _cubic_as_linear(u: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """The cubic B-spline weights of the 4 coefficients around ``u`` as two linear
    interpolations (Sigg & Hadwiger, GPU Gems 2, ch. 20): (position, weight) pairs."""
    i = torch.floor(u)
    t = u - i
    t2, t3 = t * t, t * t * t
    w0 = (1 - t) ** 3 / 6
    w1 = (3 * t3 - 6 * t2 + 4) / 6
    w2 = (-3 * t3 + 3 * t2 + 3 * t + 1) / 6
    w3 = t3 / 6
    g0, g1 = w0 + w1, w2 + w3
    return (i - 1 + w1 / g0, g0), (i + 1 + w3 / g1, g1)


def _reflected_index(u: torch.Tensor, n: int) -> torch.Tensor:
    """Nearest voxel of coordinates reflected about the edges (scipy's order 0, 'reflect')."""
    v = torch.remainder(u + 0.5, 2 * n)
    v = torch.where(v >= n, 2 * n - v, v)
    return torch.clamp(torch.floor(v), 0, n - 1).to(torch.int64)


def rotate_plane(
    array: np.ndarray, angle: float, plane: tuple[int, int], order: int, crop: int = 0
) -> np.ndarray:
    """``scipy.ndimage.rotate(array, angle, axes=plane + 1, reshape=False, order=order,
    mode="reflect")`` for an array (C, *spatial) and order 0, 1 or 3 (float32; equal to
    scipy's within float32 rounding, exactly for order 0), cut to ``crop..n-crop`` along the
    plane's axes. scipy rotates plane by plane in Python and evaluates splines point by
    point; here every plane is one channel of one ``torch.grid_sample`` call (cubic splines:
    scipy's prefilter, then four bilinear fetches of the coefficients), several times faster
    on 3D patches and soft targets (a single plane of cubic splines: scipy itself)."""
    a, b = plane[0] + 1, plane[1] + 1
    x = np.moveaxis(np.asarray(array, np.float32), (a, b), (-2, -1))
    shape, lead = x.shape[-2:], x.shape[:-2]
    x = x.reshape(-1, *shape)
    if order == 3 and len(x) == 1:  # one plane: scipy is faster (no coordinates shared)
        out = ndimage.rotate(x, angle, (1, 2), reshape=False, order=3, mode="reflect")
        out = out[:, crop : shape[0] - crop, crop : shape[1] - crop]
        return np.moveaxis(out.reshape(*lead, *out.shape[1:]), (-2, -1), (a, b))
    si, sj = _source_coordinates(shape, angle, crop)
    h, w = si.shape
    if order == 0:
        out = x[:, _reflected_index(si, shape[0]).numpy(), _reflected_index(sj, shape[1]).numpy()]
    elif order in (1, 3):
        if order == 3:  # spline coefficients along the plane's axes, as scipy's prefilter
            x = ndimage.spline_filter1d(x, 3, axis=1, mode="reflect", output=np.float64)
            x = ndimage.spline_filter1d(x, 3, axis=2, mode="reflect", output=np.float32)
        image = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None]

        def fetch(grid: torch.Tensor) -> torch.Tensor:
            sampled = F.grid_sample(image, grid[None], "bilinear", "reflection", False)
            return sampled[0]

        if order == 1:
            out = fetch(_grid(si, sj, shape)).numpy()
        else:
            fi, fj = _cubic_as_linear(si), _cubic_as_linear(sj)
            values = fetch(torch.cat([_grid(pi, pj, shape) for pi, _ in fi for pj, _ in fj]))
            weights = torch.stack([gi * gj for _, gi in fi for _, gj in fj]).to(torch.float32)
            out = (values.reshape(-1, 4, h, w) * weights).sum(1).numpy()
    else:
        raise ValueError(f"spline order {order}: 0, 1 or 3")
    return np.moveaxis(out.reshape(*lead, h, w), (-2, -1), (a, b))


def rotate_patch(
    sample: Mapping[str, np.ndarray],
    angle: float,
    plane: tuple[int, int],
    margin: int = 0,
    soft_order: int = 1,
) -> dict[str, np.ndarray]:
    """Rotate every array of a patch (channels first) by ``angle`` degrees in ``plane``
    (spatial axes) as :func:`rotate_plane`, with the spline order of
    :data:`ROTATION_ORDER`; labels and other targets are returned cut to the output region
    (``margin`` voxels less on every side, along every spatial axis)."""
    out = {}
    for key, value in sample.items():
        crop = 0 if key == "image" else margin
        rotated = rotate_plane(value, angle, plane, ROTATION_ORDER.get(key, soft_order), crop)
        if crop:  # the axis outside the plane: cut too
            spatial = value.ndim - 1
            inner = tuple(slice(None) if a in plane else slice(crop, -crop) for a in range(spatial))
            rotated = rotated[(slice(None), *inner)]
        out[key] = rotated
    return out


def rotation_table(rotations: Sequence[tuple[float, tuple[int, int]] | None]) -> np.ndarray:
    """The rotations of a batch's patches as sent to the device: (B, 3) float64 of the cosine
    and sine of the angle (scipy's degrees, as :mod:`kdseg.train.rotation`) and the plane's
    index in :data:`PLANES` (-1: not rotated)."""
    table = np.zeros((len(rotations), 3))
    table[:, 2] = -1
    for b, rotation in enumerate(rotations):
        if rotation is not None:
            angle, plane = rotation
            table[b] = special.cosdg(angle), special.sindg(angle), PLANES.index(tuple(plane))
    return table
