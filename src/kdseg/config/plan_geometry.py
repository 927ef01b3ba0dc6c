"""The geometry of planning, after nnU-Net v2's experiment planner: the target spacing of a
dataset's fingerprint, case shapes after resampling, the axes worth slicing for 2D networks, and
the largest patch within a voxel budget that keeps its extent in millimetres (pure Python).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kdseg.config.geometry import NetworkGeometry

AXIS_NAMES = ("x", "y", "z")


# -- target spacing -------------------------------------------------------------------------


def target_spacing(fingerprint: Mapping[str, Any], threshold: float) -> tuple[list[float], str]:
    """nnU-Net v2's rule (``ExperimentPlanner.determine_fullres_target_spacing``): the median
    spacing; where one axis is both ``threshold`` times coarser than the others and has
    ``threshold`` times fewer voxels, that axis gets the 10th percentile of its spacings (but
    no finer than the other axes), so that the thick-slice axis is not interpolated."""
    # NIfTI stores spacings as float32 (1.8 mm reads 1.7999999523): rounded to 0.01 micrometre
    median = [round(float(v), 5) for v in fingerprint["median_spacing"]]
    shape = [float(v) for v in fingerprint["median_shape_after_crop"]]
    worst = max(range(len(median)), key=lambda a: median[a])
    others = [a for a in range(len(median)) if a != worst]
    coarse = median[worst] > threshold * max(median[a] for a in others)
    few = shape[worst] * threshold < min(shape[a] for a in others)
    n = fingerprint["cases"]
    if not (coarse and few):
        return median, f"median spacing of {n} cases (anisotropy {max(median) / min(median):.2f})"
    p10 = round(float(fingerprint["spacing_percentiles"]["10"][worst]), 5)
    finest_other = max(median[a] for a in others)
    out = list(median)
    out[worst] = p10 if p10 >= finest_other else finest_other + 1e-5
    return out, (
        f"anisotropic: axis {AXIS_NAMES[worst]} {median[worst]:g} mm > {threshold:g} x "
        f"{finest_other:g} mm with {shape[worst]:g} < {min(shape[a] for a in others):g} / "
        f"{threshold:g} voxels; that axis at the 10th percentile of its spacings (nnU-Net), "
        "the others at the median"
    )


def resampled_shapes(fingerprint: Mapping[str, Any], spacing: Sequence[float]) -> list[list[int]]:
    """Every case's cropped shape after resampling to ``spacing`` (as preprocessing rounds)."""
    return [
        [max(1, round(n * s / t)) for n, s, t in zip(shape, case_spacing, spacing, strict=True)]
        for shape, case_spacing in zip(
            fingerprint["shapes_after_crop"], fingerprint["spacings"], strict=True
        )
    ]


def median_shape(shapes: Sequence[Sequence[int]]) -> list[int]:
    """Per-axis median (the lower median for an even count: a whole number of voxels)."""
    out = []
    for axis in range(len(shapes[0])):
        values = sorted(s[axis] for s in shapes)
        out.append(int(values[(len(values) - 1) // 2]))
    return out


# -- orientations ---------------------------------------------------------------------------


def orientations(spacing: Sequence[float], threshold: float) -> tuple[list[int], str]:
    """The array axes along which 2D slices are worth taking: those whose slices have pixels
    at most ``threshold`` times longer than wide (slices through thick-slice data are a few
    pixels tall); the least elongated one if none qualifies."""
    ratios = {}
    for axis in range(3):
        plane = [spacing[a] for a in range(3) if a != axis]
        ratios[axis] = max(plane) / min(plane)
    chosen = [a for a in range(3) if ratios[a] <= threshold]
    detail = ", ".join(f"axis {a}: {ratios[a]:.2f}" for a in range(3))
    if not chosen:
        # ties: the plane across the coarsest axis (slices as the scanner acquired them)
        best = min(ratios, key=lambda a: (ratios[a], -spacing[a]))
        why = f"no slice plane within {threshold:g}:1 pixels ({detail}); the least elongated"
        return [best], why
    return chosen, f"slice planes with pixels within {threshold:g}:1 ({detail})"


# -- patches ----------------------------------------------------------------------------------


def _round_to(value: float, divisor: int) -> int:
    return max(divisor, round(value / divisor) * divisor)


def _ceil_to(value: float, divisor: int) -> int:
    return max(divisor, math.ceil(value / divisor) * divisor)


def fit_patch(
    spacing: Sequence[float],
    image: Sequence[int],
    voxels: float,
    geometry: NetworkGeometry,
) -> list[int]:
    """The largest patch of at most ``voxels`` input voxels that keeps its extent in
    millimetres the same along every axis, no larger along an axis than the (median) image
    there (rounded up to the network's size divisor), each size a multiple of the divisor;
    for networks with valid convolutions the output region (input - 2 x margin) is what must
    cover the image and keep the aspect ratio."""
    margin, divisor = geometry.valid_margin, geometry.size_divisor
    dims = len(spacing)
    cap = [_ceil_to(n, divisor) for n in image]
    fixed: dict[int, int] = {}
    sizes: list[float] = [0.0] * dims
    for _ in range(dims + 1):
        free = [a for a in range(dims) if a not in fixed]
        if not free:
            break
        # solve prod(c / s_a + 2m over free) * prod(fixed + 2m) = voxels for the mm extent c
        used = math.prod(fixed[a] + 2 * margin for a in fixed)
        lo, hi = 0.0, max(spacing[a] * (cap[a] + voxels) for a in free)
        for _ in range(100):
            mid = (lo + hi) / 2
            total = used * math.prod(mid / spacing[a] + 2 * margin for a in free)
            lo, hi = (mid, hi) if total <= voxels else (lo, mid)
        for a in free:
            sizes[a] = lo / spacing[a]
        over = [a for a in free if sizes[a] > cap[a]]
        if not over:
            break
        for a in over:
            fixed[a] = cap[a]
    out = [fixed.get(a, 0) or _round_to(sizes[a], divisor) for a in range(dims)]
    # rounding may exceed the budget: shrink the axis that is longest in millimetres
    while math.prod(n + 2 * margin for n in out) > voxels:
        shrinkable = [a for a in range(dims) if out[a] > divisor]
        if not shrinkable:
            break
        longest = max(shrinkable, key=lambda a: out[a] * spacing[a])
        out[longest] -= divisor
    return [n + 2 * margin for n in out]


def drop_axis(values: Sequence[Any], axis: int) -> list[Any]:
    """``values`` without the one of ``axis`` (a slice plane's sizes or spacings)."""
    return [v for a, v in enumerate(values) if a != axis]
