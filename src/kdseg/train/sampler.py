"""Class-balanced patch sampling from memory-mapped cases, deterministic in (seed, iteration).

Every batch is a pure function of the run's seed and the iteration number: the choices of case,
class, position, slice orientation and augmentation are drawn from
``numpy.random.default_rng([seed, iteration])``. Two seeds give different runs, one seed the
same run, and a resumed run needs only the iteration number to continue exactly where the
killed one stopped (no generator state to restore). (The authors' code draws its patches from
one generator seeded 123 in every run, utils.py:665 and :909: a known bug kept fixed here.)

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from kdseg.errors import ConfigError
from kdseg.models.windows import PADDINGS, check_padding
from kdseg.train.augmentation import SOFT_TARGET_ORDERS, Augmentation
from kdseg.train.defaults import training_default
from kdseg.train.placement import PatchPlan, Sampling, class_locations, window_tables
from kdseg.train.rotation import rotate_patch, rotation_table

log = logging.getLogger("kdseg")


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
    ``device_rotation``: patches are cut unrotated, targets uncut, with a ``rotation`` table
    for :func:`kdseg.train.device_rotation.rotate_batch` on the training device.
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
        max_locations: int = training_default("sampling", "max_locations"),
        rule: str = training_default("sampling", "rule"),
        percent_bg_full_bg: float = training_default("sampling", "percent_bg_full_bg"),
        focus_fraction: float = 0.0,
        padding: str = training_default("padding"),
        device_rotation: bool = False,
    ) -> None:
        self.device_rotation = device_rotation
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
                class_locations(c.placing, num_classes, max_locations, table_rng)
                for c in self.cases
            ]
            return
        self._authors_tables(max_locations, table_rng)

    def _authors_tables(self, max_locations: int, table_rng: np.random.Generator) -> None:
        """Rule ``authors``: the qualifying output-region origins of every case, per slice
        orientation and kind (a WARNING names the classes that no patch can hold)."""
        num_classes = self.num_classes
        self.outs = [self._output_sizes(axis) for axis in self.orientations]
        self.windows = [
            window_tables(
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
            tables.append(class_locations(np.asarray(mask, np.uint8), 2, max_locations, rng)[1])
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
        m, rotate = self.margin, plan.rotation is not None and not self.device_rotation
        if rotate:  # cuts the targets to the output region
            order = SOFT_TARGET_ORDERS[self.augmentation.soft_target_rotation]
            sample = rotate_patch(sample, *plan.rotation, margin=m, soft_order=order)
        if self.transform is not None and plan.transform_seed is not None:
            self.transform.set_random_state(seed=plan.transform_seed)
            sample = {key: np.asarray(v) for key, v in self.transform(sample).items()}
        if m and not rotate and not self.device_rotation:
            inner = (slice(None),) + (slice(m, -m),) * self.spatial_dims
            for key in ("label", *self.extra_keys):
                sample[key] = sample[key][inner]
        sample["label"] = sample["label"][0]
        return sample

    def batch(self, iteration: int) -> dict[str, np.ndarray]:
        """Batch of ``iteration``: ``image`` (B, C, *patch), ``label`` (B, *out) int64, extras."""
        plans = self.plan(iteration)
        samples = [self.cut(p) for p in plans]
        out = {key: np.stack([s[key] for s in samples]) for key in samples[0]}
        out["label"] = np.rint(out["label"]).astype(np.int64)
        if self.device_rotation:
            out["rotation"] = rotation_table([p.rotation for p in plans])
        return out
