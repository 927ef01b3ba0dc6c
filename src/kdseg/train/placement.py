"""Where patches are placed: the class drawn and the positions that qualify for it.

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

"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from kdseg.errors import ConfigError
from kdseg.train.augmentation import known_keys
from kdseg.train.defaults import training_default

SAMPLING_RULES = ("authors", "balanced")


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

    rule: str = training_default("sampling", "rule")
    class_ratios: Sequence[float] | None = training_default("sampling", "class_ratios")
    percent_bg_full_bg: float = training_default("sampling", "percent_bg_full_bg")
    max_locations: int = training_default("sampling", "max_locations")

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
        return cls(**known_keys(cls, section, "sampling"))

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


def class_locations(
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


def window_tables(
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
