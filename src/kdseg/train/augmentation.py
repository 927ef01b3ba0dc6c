"""Patch augmentation settings (``training.augmentation``): the authors' random rotation,
drawn per patch from the batch's generator (applied by :mod:`kdseg.train.rotation`), or MONAI's
uniform rotation, and optional MONAI intensity changes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from monai.transforms import Compose, RandGaussianNoised, RandRotated, RandScaleIntensityd

from kdseg.errors import ConfigError
from kdseg.train.defaults import training_default

ROTATIONS = ("authors", "uniform")
PLANES = ((0, 1), (0, 2), (1, 2))
"""The three rotation planes of a 3D patch (spatial axes); (0, 1) is the axial plane."""
SOFT_TARGET_ORDERS = {"linear": 1, "nearest": 0}
"""Spline order of soft targets in the authors' rotation (``soft_target_rotation``)."""


def known_keys(cls: type, section: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``section`` as keyword arguments of dataclass ``cls`` (unknown keys: a ConfigError)."""
    unknown = set(section) - set(cls.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {sorted(unknown)}")
    return dict(section)


@dataclass
class Augmentation:
    """Random rotations (the authors' only augmentation) and optional intensity changes.

    ``rotation: authors`` (default): the angle is drawn from N(0, ``rotate_sigma_degrees``) for
    every patch (``rotate_prob`` null: 1); 2D slices rotate in their plane, 3D patches in one
    of the three planes chosen at random (``rotate_axes`` null: ``random_plane``; ``axial``:
    the axial plane only). Images: cubic spline, reflect padding, as the authors'
    ``scipy.ndimage.rotate`` (their data_augmentation.py:57, :73-79); labels: nearest;
    soft targets: linear (:data:`ROTATION_ORDER`; ``soft_target_rotation: nearest``, ours:
    nearest like the labels, which keeps thin structures' targets as sharp as their labels:
    docs/distillation.md). Every key is padded by reflection, so
    labels stay aligned with the reflected image (the authors pad labels with background,
    data_augmentation.py:61-63, and soft targets with zeros, utils.py:1035-1036); labels and
    soft targets rotate with their context (the whole patch) before they are cut to the
    output region (the authors pad them with zeros to the patch size first, utils.py:801,
    :1071, so context labels never rotate into the output region).

    ``rotation: uniform`` (ours before issue 15): MONAI's ``RandRotated``, an angle uniform
    in +-``rotate_degrees`` (null: 10) with probability ``rotate_prob`` (null: 0.5), about
    the last (slice) axis (``rotate_axes`` null: ``axial``) or about all three axes
    (``all``); bilinear images and soft targets, nearest labels, border padding.
    """

    rotation: str = training_default("augmentation", "rotation")
    rotate_sigma_degrees: float = training_default("augmentation", "rotate_sigma_degrees")
    rotate_degrees: float | None = training_default("augmentation", "rotate_degrees")
    rotate_prob: float | None = training_default("augmentation", "rotate_prob")
    rotate_axes: str | None = training_default("augmentation", "rotate_axes")
    intensity_scale: float = training_default("augmentation", "intensity_scale")
    intensity_prob: float = training_default("augmentation", "intensity_prob")
    noise_std: float = training_default("augmentation", "noise_std")
    noise_prob: float = training_default("augmentation", "noise_prob")
    soft_target_rotation: str = training_default("augmentation", "soft_target_rotation")

    def __post_init__(self) -> None:
        if self.soft_target_rotation not in SOFT_TARGET_ORDERS:
            raise ConfigError(
                f"augmentation.soft_target_rotation: {self.soft_target_rotation!r}; choose one "
                f"of {list(SOFT_TARGET_ORDERS)}"
            )
        if self.rotation not in ROTATIONS:
            raise ConfigError(
                f"augmentation.rotation: {self.rotation!r}; choose one of {list(ROTATIONS)}"
            )
        axes = {"authors": ("axial", "random_plane"), "uniform": ("axial", "all")}[self.rotation]
        if self.rotate_axes is not None and self.rotate_axes not in axes:
            raise ConfigError(
                f"augmentation.rotate_axes: {self.rotate_axes!r} with rotation: "
                f"{self.rotation}; choose one of {list(axes)}"
            )
        if self.rotation == "authors" and self.rotate_degrees is not None:
            raise ConfigError(
                "augmentation.rotate_degrees is the largest angle of rotation: uniform; "
                "rotation: authors draws N(0, rotate_sigma_degrees) (set one or the other)"
            )

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Augmentation:
        return cls(**known_keys(cls, section, "augmentation"))

    @property
    def probability(self) -> float:
        """The probability that a patch is rotated (null: 1 for authors, 0.5 for uniform)."""
        if self.rotate_prob is not None:
            return float(self.rotate_prob)
        return 1.0 if self.rotation == "authors" else 0.5

    @property
    def axes(self) -> str:
        if self.rotate_axes is not None:
            return self.rotate_axes
        return "random_plane" if self.rotation == "authors" else "axial"

    def draw_rotation(
        self, rng: np.random.Generator, spatial_dims: int
    ) -> tuple[float, tuple[int, int]] | None:
        """The authors' rotation of one patch: (angle in degrees, plane of spatial axes), or
        None (not rotated, or rotation: uniform, which MONAI draws)."""
        prob = self.probability
        if self.rotation != "authors" or prob <= 0 or self.rotate_sigma_degrees <= 0:
            return None
        if prob < 1 and rng.random() >= prob:
            return None
        angle = float(rng.normal(0.0, self.rotate_sigma_degrees))
        if spatial_dims == 2 or self.axes == "axial":
            return angle, PLANES[0]
        return angle, PLANES[int(rng.integers(len(PLANES)))]

    def transform(self, spatial_dims: int, extra_keys: Sequence[str]) -> Compose | None:
        """The MONAI dictionary transforms for patches with these keys (None: no augmentation):
        the uniform rotation and the intensity changes (the authors' rotation is
        :func:`rotate_patch`)."""
        keys = ["image", "label", *extra_keys]
        modes = ["bilinear", "nearest", *(["bilinear"] * len(extra_keys))]
        steps: list[Any] = []
        degrees = 10.0 if self.rotate_degrees is None else self.rotate_degrees
        if self.rotation == "uniform" and degrees > 0 and self.probability > 0:
            angle = math.radians(degrees)
            if spatial_dims == 2:
                ranges = {"range_x": angle}
            elif self.axes == "all":
                ranges = {"range_x": angle, "range_y": angle, "range_z": angle}
            else:
                ranges = {"range_z": angle}
            steps.append(
                RandRotated(
                    keys=keys,
                    prob=self.probability,
                    mode=modes,
                    padding_mode="border",
                    keep_size=True,
                    dtype=np.float32,
                    **ranges,
                )
            )
        if self.intensity_scale > 0 and self.intensity_prob > 0:
            steps.append(
                RandScaleIntensityd(
                    keys=["image"], factors=self.intensity_scale, prob=self.intensity_prob
                )
            )
        if self.noise_std > 0 and self.noise_prob > 0:
            steps.append(
                RandGaussianNoised(keys=["image"], std=self.noise_std, prob=self.noise_prob)
            )
        return Compose(steps) if steps else None
