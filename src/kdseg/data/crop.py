"""Body mask and cropping to the non-zero (body) region."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def body_mask(image: np.ndarray, threshold: float, smooth_voxels: float = 1.0) -> np.ndarray:
    """The body: largest connected region of the smoothed image above ``threshold``, holes filled.

    Holes are filled in 3D and slice by slice along the last axis (lungs reach the volume's
    border, so a 3D fill alone would leave them out).
    """
    smooth = (
        ndimage.gaussian_filter(image.astype(np.float32), smooth_voxels) if smooth_voxels else image
    )
    mask = smooth > threshold
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros(image.shape, dtype=bool)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    mask = labels == (1 + int(np.argmax(sizes)))
    mask = ndimage.binary_fill_holes(mask)
    for k in range(mask.shape[-1]):
        mask[..., k] = ndimage.binary_fill_holes(mask[..., k])
    return mask


def bounding_box(mask: np.ndarray, margin: int = 0) -> list[list[int]]:
    """``[[start, stop], ...]`` per axis of the True voxels, grown by ``margin`` and clipped."""
    if not mask.any():
        return [[0, n] for n in mask.shape]
    box = []
    for axis, n in enumerate(mask.shape):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        box.append([max(0, int(hit[0]) - margin), min(n, int(hit[-1]) + 1 + margin)])
    return box


def crop(array: np.ndarray, box: list[list[int]]) -> np.ndarray:
    """The last ``len(box)`` axes of ``array`` cut to ``box``."""
    lead = (slice(None),) * (array.ndim - len(box))
    return array[lead + tuple(slice(a, b) for a, b in box)]


def uncrop(
    array: np.ndarray, box: list[list[int]], shape: tuple[int, ...], fill: float = 0
) -> np.ndarray:
    """Place a cropped array back into a volume of ``shape`` (the inverse of :func:`crop`)."""
    lead = array.shape[: array.ndim - len(box)]
    out = np.full(lead + tuple(shape), fill, dtype=array.dtype)
    out[(slice(None),) * len(lead) + tuple(slice(a, b) for a, b in box)] = array
    return out
