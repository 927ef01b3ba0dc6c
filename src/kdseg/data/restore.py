"""Back from the preprocessed grid to a case's original one (torch-free)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kdseg.data.crop import uncrop
from kdseg.data.resample import resample_to_shape


def labels_in_original_geometry(
    probabilities: np.ndarray,
    cropped_shape: Sequence[int],
    crop_box: list[list[int]],
    original_shape: Sequence[int],
) -> np.ndarray:
    """Labels (uint8) on the original grid from probabilities on the preprocessed grid.

    Inverts preprocessing: each class map is resampled linearly to the cropped grid (a running
    max/argmax keeps ~2 maps in memory), then placed at ``crop_box`` in the original shape with
    background (0) outside.
    """
    cropped_shape = tuple(int(n) for n in cropped_shape)
    if tuple(b - a for a, b in crop_box) != cropped_shape:
        raise ValueError(f"crop_box {crop_box} does not match cropped_shape {cropped_shape}")
    best = resample_to_shape(
        np.asarray(probabilities[0], dtype=np.float32), cropped_shape, order=1, anti_alias=False
    )
    labels = np.zeros(cropped_shape, dtype=np.uint8)
    for k in range(1, probabilities.shape[0]):
        p = resample_to_shape(
            np.asarray(probabilities[k], dtype=np.float32), cropped_shape, order=1, anti_alias=False
        )
        better = p > best  # strict: ties go to the lower class, as argmax does
        labels[better] = k
        np.maximum(best, p, out=best)
    return uncrop(labels, crop_box, tuple(int(n) for n in original_shape), fill=0)
