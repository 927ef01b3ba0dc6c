"""Intensity normalisation per modality.

CT: clip to a fixed HU window or to percentiles of the training cases' foreground voxels,
then standardise with the foreground mean and sd (as nnU-Net). MR and anything else: per
case, standardise inside the body mask and set the outside to 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CT_NAMES = {"ct"}


def modality_of(channel_name: str, override: str = "auto") -> str:
    """``ct`` or ``mr`` for a channel: from its dataset.json name unless overridden."""
    if override != "auto":
        return override
    return "ct" if channel_name.strip().lower() in CT_NAMES else "mr"


@dataclass(frozen=True)
class CTStats:
    """Dataset-level CT normalisation: clip window, then (x - mean) / sd."""

    low: float
    high: float
    mean: float
    sd: float

    def to_json(self) -> dict:
        return asdict(self)


def ct_stats(
    foreground_samples: np.ndarray,
    mode: str,
    window: tuple[float, float],
    percentiles: tuple[float, float],
) -> CTStats:
    """CT statistics from foreground intensities of the training cases."""
    if mode == "window":
        low, high = float(window[0]), float(window[1])
    else:
        low, high = (float(v) for v in np.percentile(foreground_samples, percentiles))
    clipped = np.clip(foreground_samples, low, high)
    return CTStats(low, high, float(clipped.mean()), float(max(clipped.std(), 1e-6)))


def normalize_ct(image: np.ndarray, stats: CTStats) -> np.ndarray:
    """Clip then standardise a CT channel."""
    return ((np.clip(image, stats.low, stats.high) - stats.mean) / stats.sd).astype(np.float32)


def normalize_mr(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Standardise inside ``mask``; voxels outside become 0. Returns the image and its stats."""
    inside = image[mask] if mask.any() else image.ravel()
    mean, sd = float(inside.mean()), float(max(inside.std(), 1e-6))
    out = ((image - mean) / sd).astype(np.float32)
    out[~mask] = 0.0
    return out, {"mean": mean, "sd": sd}
