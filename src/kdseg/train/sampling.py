"""Class-balanced patch sampling from memory-mapped cases, deterministic in (seed, iteration).

Every batch is a pure function of the run's seed and the iteration number: the choices of case,
class, position, slice orientation and augmentation are drawn from
``numpy.random.default_rng([seed, iteration])``. Two seeds give different runs, one seed the
same run, and a resumed run needs only the iteration number to continue exactly where the
killed one stopped (no generator state to restore). (The authors' code draws its patches from
one generator seeded 123 in every run, utils.py:665 and :909: a known bug kept fixed here.)

Two placement rules (``training.sampling.rule``):

``authors`` (default): the rule of the authors' batch iterators (``balanced_batch_iterator2D``
    and ``3D`` in their ``src/utils.py``, lines 686-793 and 924-1020). A class is drawn with
    the configured ratios (theirs by default: :func:`authors_class_ratios`); the patch's output
    region is then placed uniformly at random among the positions inside the image whose
    output region contains a voxel of that class (their default inclusion criterion
    ``entire-sample-area``). A background patch must moreover contain some foreground (a
    voxel of any other class) unless it is drawn, with probability ``percent_bg_full_bg``
    percent, as a pure-background patch. The authors find such a position by rejection
    (uniform positions until one qualifies); here the qualifying positions of every case are
    computed once (a maximum filter over the label) and a bounded random subset of them
    (``max_locations``) is kept, from which positions are drawn uniformly.
``balanced`` (ours before issue 15): classes drawn equally by default; the patch is placed so
    that a voxel of the drawn class lies at a uniformly random position in its output region;
    a background patch may be pure background.

A run may place patches by other labels than its targets (``CaseArrays.placement``, e.g. a
student's ensemble arg-max) and draw a share ``focus_fraction`` of its patches around given
voxels (``CaseArrays.focus``, e.g. where the ensemble is uncertain; ``cls`` -1 in the plan);
:class:`PatchGuides` carries both (:mod:`kdseg.distill.patch_guides`).

Images are read from the memory-mapped ``.npy`` arrays one window at a time; per case the
sampler keeps only bounded tables of positions, never the image. A window reaching outside the
image is padded (``training.padding``): ``edge`` (ours) repeats the border voxels, ``zeros``
(the authors': they zero-pad every image by half the receptive field, ``utils.py:305, 477``)
pads the image with 0; labels and extra targets are edge-padded under both.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.transforms import Compose, RandGaussianNoised, RandRotated, RandScaleIntensityd
from scipy import ndimage, special

from kdseg.errors import ConfigError
from kdseg.models.windows import PADDINGS, check_padding

log = logging.getLogger("kdseg")

SAMPLING_RULES = ("authors", "balanced")
ROTATIONS = ("authors", "uniform")
PLANES = ((0, 1), (0, 2), (1, 2))
"""The three rotation planes of a 3D patch (spatial axes); (0, 1) is the axial plane."""
SOFT_TARGET_ORDERS = {"linear": 1, "nearest": 0}
"""Spline order of soft targets in the authors' rotation (``soft_target_rotation``)."""
ROTATION_ORDER = {"image": 3, "label": 0}
"""Spline order of the authors' rotation per key: cubic for images (scipy's default, as the
authors' ``scipy.ndimage.rotate`` calls), nearest for labels (their order 0); other keys (soft
targets): linear (ours; the authors rotate soft probabilities with cubic splines, which
overshoot [0, 1]): stored probabilities stay probabilities summing to 1, stored
log-probabilities (T != 1) are interpolated in log space and renormalised by the target's
softmax."""


@dataclass
class CaseArrays:
    """One training case: ``image`` (C, X, Y, Z), ``label`` (X, Y, Z) and optional extra
    per-voxel targets (e.g. soft labels (K, X, Y, Z)), all possibly memory-mapped."""

    name: str
    image: np.ndarray
    label: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    placement: np.ndarray | None = None
    """Labels that place the class-balanced patches instead of ``label`` (e.g. a student's
    ensemble arg-max); the patch's targets are still ``label`` and ``extra``."""
    focus: np.ndarray | None = None
    """Voxels (bool, X, Y, Z) that the sampler's ``focus_fraction`` of patches hold in their
    output region (e.g. where a student's ensemble is uncertain)."""

    @property
    def placing(self) -> np.ndarray:
        """The labels that place patches: ``placement`` where given, else ``label``."""
        return self.label if self.placement is None else self.placement


@dataclass
class PatchGuides:
    """Where a run's patches go besides its own labels: per case, ``placement`` labels (used
    instead of the reference labels to place class-balanced patches) and ``focus`` voxels,
    which ``focus_fraction`` of the patches hold (a student's options ``patch_source`` and
    ``uncertain_patches``, :mod:`kdseg.distill.patch_guides`)."""

    placement: Mapping[str, np.ndarray] = field(default_factory=dict)
    focus: Mapping[str, np.ndarray] = field(default_factory=dict)
    focus_fraction: float = 0.0


def _known_keys(cls: type, section: Mapping[str, Any], name: str) -> dict[str, Any]:
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

    rotation: str = "authors"
    rotate_sigma_degrees: float = 10.0
    rotate_degrees: float | None = None
    rotate_prob: float | None = None
    rotate_axes: str | None = None
    intensity_scale: float = 0.0
    intensity_prob: float = 0.0
    noise_std: float = 0.0
    noise_prob: float = 0.0
    soft_target_rotation: str = "linear"

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
        return cls(**_known_keys(cls, section, "augmentation"))

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


def _reflected_index(u: torch.Tensor, n: int) -> np.ndarray:
    """Nearest voxel of coordinates reflected about the edges (scipy's order 0, 'reflect')."""
    v = torch.remainder(u + 0.5, 2 * n)
    v = torch.where(v >= n, 2 * n - v, v)
    return torch.clamp(torch.floor(v), 0, n - 1).to(torch.int64).numpy()


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
        out = x[:, _reflected_index(si, shape[0]), _reflected_index(sj, shape[1])]
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


def authors_class_ratios(num_classes: int) -> np.ndarray:
    """The authors' class ratios: their CLI default ``--balance-ratios 5,3,2`` for three
    classes (training_network.py:755-763: 50% background, 30% kidney, 20% tumour); with two
    classes their code draws background and foreground 5:5 from that default (utils.py:703-710,
    :941-948). Other class counts (ours; their default would never draw a fourth class):
    background in half the patches, the foreground classes sharing the other half equally."""
    if num_classes == 3:
        return np.array([5.0, 3.0, 2.0])
    if num_classes < 2:
        return np.ones(num_classes)
    return np.array([0.5] + [0.5 / (num_classes - 1)] * (num_classes - 1))


@dataclass
class Sampling:
    """The ``training.sampling`` section (see the module's docstring for the rules)."""

    rule: str = "authors"
    class_ratios: Sequence[float] | None = None
    percent_bg_full_bg: float = 0.0
    max_locations: int = 2000

    def __post_init__(self) -> None:
        if self.rule not in SAMPLING_RULES:
            raise ConfigError(f"sampling.rule: {self.rule!r}; choose one of {list(SAMPLING_RULES)}")
        if not 0 <= self.percent_bg_full_bg <= 100:
            raise ConfigError(
                f"sampling.percent_bg_full_bg: {self.percent_bg_full_bg}; needs 0 to 100"
            )
        if self.rule != "authors" and self.percent_bg_full_bg > 0:
            raise ConfigError(
                "sampling.percent_bg_full_bg applies to rule: authors only "
                f"(rule: {self.rule} places background patches around a background voxel)"
            )
        if self.max_locations < 1:
            raise ConfigError(f"sampling.max_locations: {self.max_locations}; needs 1 or more")

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Sampling:
        return cls(**_known_keys(cls, section, "sampling"))

    def ratios(self, num_classes: int) -> np.ndarray:
        """The class-drawing probabilities (null: the rule's own, see the schema)."""
        if self.class_ratios is None:
            default = authors_class_ratios if self.rule == "authors" else np.ones
            ratios = np.asarray(default(num_classes), float)
        else:
            ratios = np.asarray(self.class_ratios, float)
        if ratios.shape != (num_classes,) or (ratios < 0).any() or ratios.sum() <= 0:
            raise ConfigError(
                f"sampling.class_ratios: need {num_classes} non-negative values, "
                f"got {self.class_ratios}"
            )
        return ratios / ratios.sum()


@dataclass(frozen=True)
class PatchPlan:
    """Where one patch is cut and how it is augmented (all its random choices).

    ``cls``: the drawn class (-1: a focus patch); ``full_background``: drawn as a
    pure-background patch (``percent_bg_full_bg``); ``starts``/``sizes``: the input window in
    array coordinates (size 1 along the slice axis of a 2D patch); ``rotation``: the authors'
    rotation (degrees, plane) or None; ``transform_seed``: the seed of the MONAI transforms."""

    case: int
    cls: int
    full_background: bool
    orientation: int | None
    starts: tuple[int, ...]
    sizes: tuple[int, ...]
    rotation: tuple[float, tuple[int, int]] | None = None
    transform_seed: int | None = None


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


def _true_box(mask: np.ndarray) -> list[tuple[int, int]] | None:
    """Per axis, the first and last index holding a true voxel (None: none)."""
    box = []
    for axis in range(mask.ndim):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if not len(hits):
            return None
        box.append((int(hits[0]), int(hits[-1])))
    return box


def _windows_containing(
    mask: np.ndarray, outs: Sequence[int], within: Sequence[tuple[int, int]] | None = None
) -> np.ndarray:
    """For every output-region origin ``o`` (per axis ``0..dim - out``; a single origin along
    an axis where the region is at least as large as the image), whether the region
    ``[o, o + out)`` holds a true voxel of ``mask``: a maximum filter per axis, computed only
    over the origins near the mask's true voxels (and inside ``within``, origin ranges)."""
    grid = tuple(max(dim - out, 0) + 1 for dim, out in zip(mask.shape, outs, strict=True))
    result = np.zeros(grid, bool)
    box = _true_box(mask)
    if box is None:
        return result
    ranges, block = [], []
    for axis, (out, dim, (first, last)) in enumerate(zip(outs, mask.shape, box, strict=True)):
        if out >= dim:  # the region covers the whole axis wherever it is placed
            lo, hi = 0, 0
        else:
            lo, hi = max(first - out + 1, 0), min(last, dim - out)
        if within is not None:
            lo, hi = max(lo, within[axis][0]), min(hi, within[axis][1])
        if hi < lo:
            return result
        ranges.append(slice(lo, hi + 1))
        block.append(slice(None) if out >= dim else slice(lo, hi + out))
    m = mask[tuple(block)].view(np.uint8)
    for axis, out in enumerate(outs):
        if out == 1:
            continue
        if out >= mask.shape[axis]:
            m = m.max(axis=axis, keepdims=True)
            continue
        length = m.shape[axis] - out + 1
        m = ndimage.maximum_filter1d(m, size=out, axis=axis, mode="constant")
        # the filter's window at i is [i - out // 2, i - out // 2 + out): origin o = i - out // 2
        m = np.take(m, np.arange(out // 2, out // 2 + length), axis=axis)
    result[tuple(ranges)] = m.astype(bool)
    return result


def _window_tables(
    label: np.ndarray,
    num_classes: int,
    outs_per_orientation: Sequence[Sequence[int]],
    full_background: bool,
    max_locations: int,
    rng: np.random.Generator,
) -> list[list[np.ndarray]]:
    """The authors' qualifying output-region origins of one case, per orientation and kind:
    kinds ``0..K-1`` (region holds the class; for background also some foreground) and ``K``
    (pure background; empty unless ``full_background``). Up to ``max_locations`` origins
    (int32, (n, 3)) per table, a uniformly random subset where there are more."""
    lab = np.asarray(label)
    foreground = lab != 0
    has_foreground = [_windows_containing(foreground, outs) for outs in outs_per_orientation]
    tables: list[list[np.ndarray]] = [[] for _ in outs_per_orientation]
    for kind in range(num_classes + 1):
        mask = lab == kind if kind < num_classes else None
        for o, outs in enumerate(outs_per_orientation):
            if kind == num_classes:
                valid = ~has_foreground[o] if full_background else np.zeros((0, 0, 0), bool)
            elif kind == 0:  # background and some foreground: only where foreground can be
                near = _true_box(has_foreground[o])
                valid = np.zeros_like(has_foreground[o])
                if near is not None:
                    valid = _windows_containing(mask, outs, near) & has_foreground[o]
            else:
                valid = _windows_containing(mask, outs)
            idx = np.flatnonzero(valid)
            if len(idx) > max_locations:
                idx = rng.choice(idx, size=max_locations, replace=False)
            tables[o].append(np.stack(np.unravel_index(idx, valid.shape), 1).astype(np.int32))
    return tables


def _window(
    array: np.ndarray, starts: Sequence[int], sizes: Sequence[int], padding: str = "edge"
) -> np.ndarray:
    """``array[..., start:start+size]`` over the last three axes, padded where outside:
    ``edge`` repeats the border voxels, ``zeros`` pads with 0 (:data:`PADDINGS`)."""
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
        out = np.pad(out, [(0, 0)] * lead + pads, mode=_NUMPY_PAD[padding])
    return out


_NUMPY_PAD = {"edge": "edge", "zeros": "constant"}
assert set(_NUMPY_PAD) == set(PADDINGS)


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
    ``rule``, ``class_ratios``, ``percent_bg_full_bg``, ``max_locations``: :class:`Sampling`.
    ``padding``: how image windows reaching outside the image are padded (module docstring).
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
        rule: str = "authors",
        percent_bg_full_bg: float = 0.0,
        focus_fraction: float = 0.0,
        padding: str = "edge",
    ) -> None:
        self.padding = check_padding(padding, "training.padding")
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
        self.settings = Sampling(rule, class_ratios, percent_bg_full_bg, max_locations)
        self.rule = rule
        self.percent_bg_full_bg = float(percent_bg_full_bg)
        self.ratios = self.settings.ratios(num_classes)
        self.focus_fraction = float(focus_fraction)
        if not 0.0 <= self.focus_fraction <= 1.0:
            raise ConfigError(f"sampling: focus fraction {focus_fraction} must be in [0, 1]")
        extra_keys = sorted(self.cases[0].extra)
        self.extra_keys = extra_keys
        self.augmentation = augmentation
        self.transform = (
            augmentation.transform(self.spatial_dims, extra_keys) if augmentation else None
        )
        table_rng = np.random.default_rng([seed, 2**31 - 1])
        self.focus = self._focus_tables(max_locations) if self.focus_fraction > 0 else None
        if rule == "balanced":
            self.locations = [
                _class_locations(c.placing, num_classes, max_locations, table_rng)
                for c in self.cases
            ]
            return
        self.outs = [self._output_sizes(axis) for axis in self.orientations]
        self.windows = [
            _window_tables(
                c.placing,
                num_classes,
                self.outs,
                self.percent_bg_full_bg > 0,
                max_locations,
                table_rng,
            )
            for c in self.cases
        ]
        # available[o][k, kind]: case k has a qualifying origin of this kind in orientation o
        self.available = [
            np.array([[len(t) > 0 for t in tables[o]] for tables in self.windows])
            for o in range(len(self.orientations))
        ]
        for o, axis in enumerate(self.orientations):
            absent = [
                c for c in range(num_classes)
                if self.ratios[c] > 0 and not self._class_available(o, c)
            ]  # fmt: skip
            if absent:
                where = "" if axis is None else f" (slices along axis {axis})"
                log.warning(
                    "sampling: no training patch can hold class(es) %s%s; drawn among the "
                    "other classes", absent, where,
                )  # fmt: skip

    def _focus_tables(self, max_locations: int) -> list[np.ndarray] | None:
        """Up to ``max_locations`` random focus voxels (int32, (n, 3)) per case (None: no case
        has any: focus patches are then not drawn). A focus patch is placed as rule
        ``balanced`` places a class: the voxel at a uniformly random place of its output
        region."""
        rng = np.random.default_rng([self.seed, 2**31 - 2])
        tables = []
        for case in self.cases:
            mask = case.focus
            if mask is None:  # no focus voxels in this case
                tables.append(np.zeros((0, 3), np.int32))
                continue
            if mask.shape != case.label.shape:
                raise ConfigError(
                    f"sampling: focus voxels of case {case.name} have shape {mask.shape}, its "
                    f"label {case.label.shape}"
                )
            tables.append(_class_locations(np.asarray(mask, np.uint8), 2, max_locations, rng)[1])
        if not any(len(t) for t in tables):
            log.warning("sampling: no focus voxel in any training case; no focus patches")
            return None
        return tables

    def _sizes(self, axis: int | None) -> list[int]:
        """The input window's sizes along the array axes (1 along a 2D patch's slice axis)."""
        sizes = list(self.patch)
        if axis is not None:
            sizes.insert(axis, 1)
        return sizes

    def _output_sizes(self, axis: int | None) -> list[int]:
        """The output region's sizes along the array axes (1 along the slice axis)."""
        return [1 if a == axis else s - 2 * self.margin for a, s in enumerate(self._sizes(axis))]

    def _class_available(self, o: int, cls: int) -> bool:
        avail = self.available[o]
        return bool(avail[:, cls].any() or (cls == 0 and avail[:, self.num_classes].any()))

    def _balanced_placement(self, rng: np.random.Generator) -> PatchPlan:
        """Ours: a voxel of the drawn class at a uniformly random place in the output region."""
        k = int(rng.integers(len(self.cases)))
        tables = self.locations[k]
        present = np.array([len(t) > 0 for t in tables])
        probs = self.ratios * present
        if probs.sum() == 0:
            probs = present / present.sum()
        cls = int(rng.choice(self.num_classes, p=probs / probs.sum()))
        voxel = tables[cls][int(rng.integers(len(tables[cls])))]
        return self._around(k, cls, voxel, rng)

    def _focus_placement(self, rng: np.random.Generator) -> PatchPlan:
        """A patch whose output region holds a focus voxel (``cls`` -1)."""
        assert self.focus is not None
        holders = [k for k, table in enumerate(self.focus) if len(table)]
        k = holders[int(rng.integers(len(holders)))]
        voxel = self.focus[k][int(rng.integers(len(self.focus[k])))]
        return self._around(k, -1, voxel, rng)

    def _around(self, k: int, cls: int, voxel: np.ndarray, rng: np.random.Generator) -> PatchPlan:
        """A patch of case ``k`` with ``voxel`` at a uniformly random place in its output
        region (slice orientation drawn among the sampler's)."""
        axis = self.orientations[int(rng.integers(len(self.orientations)))]
        sizes = self._sizes(axis)
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
        return PatchPlan(k, cls, False, axis, tuple(starts), tuple(sizes))

    def _authors_placement(self, rng: np.random.Generator) -> PatchPlan:
        """The authors' rule: a uniformly random qualifying position of the drawn class."""
        o = int(rng.integers(len(self.orientations)))
        axis, K = self.orientations[o], self.num_classes
        usable = np.array([self._class_available(o, c) for c in range(K)])
        probs = self.ratios * usable
        if probs.sum() == 0:  # only classes of ratio 0 occur: draw among those
            probs = usable.astype(float)
        cls = int(rng.choice(K, p=probs / probs.sum()))
        kind, full = cls, False
        if cls == 0:
            full = self.percent_bg_full_bg > 0 and rng.random() * 100 < self.percent_bg_full_bg
            kind = K if full else 0
            if not self.available[o][:, kind].any():  # no such patch anywhere: the other kind
                kind, full = (0, False) if full else (K, True)
        holders = np.flatnonzero(self.available[o][:, kind])
        k = int(holders[rng.integers(len(holders))])
        table = self.windows[k][o][kind]
        origin = table[int(rng.integers(len(table)))]
        sizes = self._sizes(axis)
        starts = []
        for a, (start, out, dim) in enumerate(
            zip(origin, self.outs[o], self.cases[k].label.shape, strict=True)
        ):
            if a == axis:  # the slice index
                starts.append(int(start))
                continue
            if out >= dim:  # region larger than the image: anywhere that covers it
                start = int(rng.integers(dim - out, 1))
            starts.append(int(start) - self.margin)
        return PatchPlan(k, cls, full, axis, tuple(starts), tuple(sizes))

    def _plan(self, rng: np.random.Generator) -> PatchPlan:
        # the focus draw only where focus patches exist: other runs keep their random stream
        if self.focus is not None and rng.random() < self.focus_fraction:
            plan = self._focus_placement(rng)
        elif self.rule == "balanced":
            plan = self._balanced_placement(rng)
        else:
            plan = self._authors_placement(rng)
        rotation = (
            self.augmentation.draw_rotation(rng, self.spatial_dims)
            if self.augmentation is not None
            else None
        )
        seed = int(rng.integers(2**31)) if self.transform is not None else None
        return PatchPlan(**{**plan.__dict__, "rotation": rotation, "transform_seed": seed})

    def plan(self, iteration: int) -> list[PatchPlan]:
        """The patches of batch ``iteration``: every random choice, without cutting them."""
        rng = np.random.default_rng([self.seed, iteration])
        return [self._plan(rng) for _ in range(self.batch_size)]

    def cut(self, plan: PatchPlan) -> dict[str, np.ndarray]:
        """One patch as planned: image (C, *patch), label (*out) float, extras (K, *out)."""
        case = self.cases[plan.case]
        starts, sizes = plan.starts, plan.sizes
        sample = {
            "image": _window(case.image, starts, sizes, self.padding).astype(
                np.float32, copy=False
            ),
            "label": _window(case.label, starts, sizes)[None].astype(np.float32),
        }
        for key in self.extra_keys:
            sample[key] = _window(case.extra[key], starts, sizes).astype(np.float32, copy=False)
        if plan.orientation is not None:  # drop the slice axis: (C, X, Y, Z) -> (C, H, W)
            sample = {key: np.take(v, 0, axis=plan.orientation + 1) for key, v in sample.items()}
        m = self.margin
        if plan.rotation is not None:  # cuts the targets to the output region
            order = SOFT_TARGET_ORDERS[self.augmentation.soft_target_rotation]
            sample = rotate_patch(sample, *plan.rotation, margin=m, soft_order=order)
        if self.transform is not None and plan.transform_seed is not None:
            self.transform.set_random_state(seed=plan.transform_seed)
            sample = {key: np.asarray(v) for key, v in self.transform(sample).items()}
        if m and plan.rotation is None:
            inner = (slice(None),) + (slice(m, -m),) * self.spatial_dims
            for key in ("label", *self.extra_keys):
                sample[key] = sample[key][inner]
        sample["label"] = sample["label"][0]
        return sample

    def batch(self, iteration: int) -> dict[str, np.ndarray]:
        """Batch of ``iteration``: ``image`` (B, C, *patch), ``label`` (B, *out) int64, extras."""
        samples = [self.cut(p) for p in self.plan(iteration)]
        out = {key: np.stack([s[key] for s in samples]) for key in samples[0]}
        out["label"] = np.rint(out["label"]).astype(np.int64)
        return out
