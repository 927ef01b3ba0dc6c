"""Class-balanced patch sampling from memory-mapped cases, deterministic in (seed, iteration).

Every batch is a pure function of the run's seed and the iteration number: the choices of case,
class, position, slice orientation and augmentation are drawn from
``numpy.random.default_rng([seed, iteration])``. Two seeds give different runs, one seed the
same run, and a resumed run needs only the iteration number to continue exactly where the
killed one stopped (no generator state to restore).

Class balance follows the authors: a class is drawn with the configured ratios and the patch
is placed so that a voxel of that class lies in its output region (at a uniformly random
position inside it). Images are read from the memory-mapped ``.npy`` arrays one window at a
time; per case the sampler keeps only a bounded table of class locations
(``max_locations`` coordinates per class), never the image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from monai.transforms import Compose, RandGaussianNoised, RandRotated, RandScaleIntensityd

from kdseg.errors import ConfigError


@dataclass
class CaseArrays:
    """One training case: ``image`` (C, X, Y, Z), ``label`` (X, Y, Z) and optional extra
    per-voxel targets (e.g. soft labels (K, X, Y, Z)), all possibly memory-mapped."""

    name: str
    image: np.ndarray
    label: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Augmentation:
    """Random rotations (the authors' only augmentation) and optional intensity changes.

    ``rotate_degrees`` is the largest in-plane angle; 2D slices rotate in their plane, 3D
    patches about the last (slice) axis, or about all three axes with ``rotate_axes: all``.
    """

    rotate_degrees: float = 10.0
    rotate_prob: float = 0.5
    rotate_axes: str = "axial"
    intensity_scale: float = 0.0
    intensity_prob: float = 0.0
    noise_std: float = 0.0
    noise_prob: float = 0.0

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Augmentation:
        known = set(cls.__dataclass_fields__)
        unknown = set(section) - known
        if unknown:
            raise ConfigError(f"augmentation: unknown key(s) {sorted(unknown)}")
        return cls(**section)

    def transform(self, spatial_dims: int, extra_keys: Sequence[str]) -> Compose | None:
        """The MONAI dictionary transforms for patches with these keys (None: no augmentation)."""
        keys = ["image", "label", *extra_keys]
        modes = ["bilinear", "nearest", *(["bilinear"] * len(extra_keys))]
        steps: list[Any] = []
        if self.rotate_degrees > 0 and self.rotate_prob > 0:
            angle = math.radians(self.rotate_degrees)
            if spatial_dims == 2:
                ranges = {"range_x": angle}
            elif self.rotate_axes == "all":
                ranges = {"range_x": angle, "range_y": angle, "range_z": angle}
            else:
                ranges = {"range_z": angle}
            steps.append(
                RandRotated(
                    keys=keys,
                    prob=self.rotate_prob,
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


def _class_locations(
    label: np.ndarray, num_classes: int, max_locations: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Up to ``max_locations`` random voxel coordinates (int32, (n, 3)) per class."""
    flat = np.asarray(label).reshape(-1)
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(num_classes + 1))
    tables = []
    for c in range(num_classes):
        idx = order[bounds[c] : bounds[c + 1]]
        if len(idx) > max_locations:
            idx = rng.choice(idx, size=max_locations, replace=False)
        tables.append(np.stack(np.unravel_index(idx, label.shape), axis=1).astype(np.int32))
    return tables


def _window(array: np.ndarray, starts: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
    """``array[..., start:start+size]`` over the last three axes, edge-padded where outside."""
    lead = array.ndim - 3
    inner, pads = [], []
    for start, size, dim in zip(starts, sizes, array.shape[lead:], strict=True):
        lo, hi = max(start, 0), min(start + size, dim)
        if hi <= lo:  # window entirely outside: take the nearest edge voxel
            lo = min(max(start, 0), dim - 1)
            hi = lo + 1
        inner.append(slice(lo, hi))
        pads.append((lo - start, start + size - hi))
    out = np.asarray(array[(slice(None),) * lead + tuple(inner)])
    if any(p != (0, 0) for p in pads):
        out = np.pad(out, [(0, 0)] * lead + pads, mode="edge")
    return out


PADDING_LIMIT = 2.0  # a patch's output region may be at most this many times the image


def check_patch_fits(
    patch: Sequence[int],
    margin: int,
    shapes: Sequence[Sequence[int]],
    orientations: Sequence[int | None] = (None,),
) -> None:
    """Refuse a patch whose output region (``patch - 2 * margin``) is more than
    ``PADDING_LIMIT`` times the largest image along an axis: every patch would then be mostly
    padding, and memory grows with the patch, not the data (256^3 on 32x32x6 images needs GBs
    before one iteration). Patches somewhat larger than small images stay allowed (padded)."""
    largest = np.max(np.asarray(shapes, int), axis=0)
    for orientation in orientations:
        axes = [a for a in range(3) if a != orientation] if orientation is not None else [0, 1, 2]
        for size, axis in zip(patch, axes, strict=True):
            if size - 2 * margin > PADDING_LIMIT * largest[axis]:
                raise ConfigError(
                    f"patch {list(patch)}: its output region ({size - 2 * margin} voxels along "
                    f"array axis {axis}) is more than {PADDING_LIMIT:g} times the largest "
                    f"preprocessed image ({largest.tolist()}); choose a smaller 'patch' for "
                    "this architecture (or a finer preprocess.target_spacing)"
                )


class PatchSampler:
    """Batches of class-balanced patches; ``batch(i)`` depends only on (seed, i).

    ``patch`` has three sizes for 3D networks and two for 2D ones; 2D patches are slices taken
    along one of ``orientations`` (array axes; 2 is axial). ``margin`` is the network's valid
    margin: labels (and extra targets) are cut to the output region, ``patch - 2 * margin``.
    """

    def __init__(
        self,
        cases: Sequence[CaseArrays],
        num_classes: int,
        patch: Sequence[int],
        batch_size: int,
        seed: int,
        orientations: Sequence[int] = (0, 1, 2),
        margin: int = 0,
        class_ratios: Sequence[float] | None = None,
        augmentation: Augmentation | None = None,
        max_locations: int = 2000,
    ) -> None:
        if not cases:
            raise ConfigError("sampling: no training cases")
        self.cases = list(cases)
        self.num_classes = num_classes
        self.patch = tuple(int(p) for p in patch)
        self.spatial_dims = len(self.patch)
        if self.spatial_dims not in (2, 3):
            raise ConfigError(f"patch {list(patch)}: needs 2 (2D network) or 3 (3D) sizes")
        if any(p - 2 * margin < 1 for p in self.patch):
            raise ConfigError(
                f"patch {list(patch)}: too small for a network that loses {margin} pixels per side"
            )
        self.batch_size = batch_size
        self.seed = seed
        self.orientations = tuple(orientations) if self.spatial_dims == 2 else (None,)
        self.margin = margin
        check_patch_fits(
            self.patch, margin, [c.label.shape[-3:] for c in self.cases], self.orientations
        )
        ratios = np.ones(num_classes) if class_ratios is None else np.asarray(class_ratios, float)
        if ratios.shape != (num_classes,) or (ratios < 0).any() or ratios.sum() <= 0:
            raise ConfigError(
                f"sampling.class_ratios: need {num_classes} non-negative values, got {class_ratios}"
            )
        self.ratios = ratios / ratios.sum()
        extra_keys = sorted(self.cases[0].extra)
        self.extra_keys = extra_keys
        self.transform = (
            augmentation.transform(self.spatial_dims, extra_keys) if augmentation else None
        )
        table_rng = np.random.default_rng([seed, 2**31 - 1])
        self.locations = [
            _class_locations(c.label, num_classes, max_locations, table_rng) for c in self.cases
        ]

    def _placement(self, rng: np.random.Generator) -> tuple[int, int | None, list[int], list[int]]:
        """Draw (case index, orientation, window start, window size) for one patch."""
        k = int(rng.integers(len(self.cases)))
        tables = self.locations[k]
        present = np.array([len(t) > 0 for t in tables])
        probs = self.ratios * present
        if probs.sum() == 0:
            probs = present / present.sum()
        cls = int(rng.choice(self.num_classes, p=probs / probs.sum()))
        voxel = tables[cls][int(rng.integers(len(tables[cls])))]
        axis = self.orientations[int(rng.integers(len(self.orientations)))]
        if axis is None:
            sizes = list(self.patch)
        else:
            sizes = list(self.patch)
            sizes.insert(axis, 1)
        shape = self.cases[k].label.shape
        starts = []
        for v, size, dim in zip(voxel, sizes, shape, strict=True):
            if size == 1:
                starts.append(int(v))
                continue
            inner = size - 2 * self.margin
            start = int(v) - self.margin - int(rng.integers(inner))
            if self.margin == 0 and dim >= size:  # keep same-size patches inside the volume
                start = min(max(start, 0), dim - size)
            starts.append(start)
        return k, axis, starts, sizes

    def _patch(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        k, axis, starts, sizes = self._placement(rng)
        case = self.cases[k]
        sample = {
            "image": _window(case.image, starts, sizes).astype(np.float32, copy=False),
            "label": _window(case.label, starts, sizes)[None].astype(np.float32),
        }
        for key in self.extra_keys:
            sample[key] = _window(case.extra[key], starts, sizes).astype(np.float32, copy=False)
        if axis is not None:  # drop the slice axis: (C, X, Y, Z) -> (C, H, W)
            sample = {key: np.take(v, 0, axis=axis + 1) for key, v in sample.items()}
        if self.transform is not None:
            self.transform.set_random_state(seed=int(rng.integers(2**31)))
            sample = {key: np.asarray(v) for key, v in self.transform(sample).items()}
        m = self.margin
        if m:
            inner = (slice(None),) + (slice(m, -m),) * self.spatial_dims
            for key in ("label", *self.extra_keys):
                sample[key] = sample[key][inner]
        sample["label"] = sample["label"][0]
        return sample

    def batch(self, iteration: int) -> dict[str, np.ndarray]:
        """Batch of ``iteration``: ``image`` (B, C, *patch), ``label`` (B, *out) int64, extras."""
        rng = np.random.default_rng([self.seed, iteration])
        samples = [self._patch(rng) for _ in range(self.batch_size)]
        out = {key: np.stack([s[key] for s in samples]) for key in samples[0]}
        out["label"] = np.rint(out["label"]).astype(np.int64)
        return out
