"""The authors' rotation of a whole batch on the training device (``training.rotate_on``).

The loader then only cuts: its patches come unrotated, labels and soft targets with their
context (the whole patch), and a table of each patch's rotation. The training loop rotates
the batch right after moving it to the device, with the maths of :mod:`kdseg.train.rotation`
batched over the patches: one ``grid_sample`` call per rotation plane with a sampling grid
per patch (cubic splines: scipy's prefilter as two matrix products, then four bilinear
fetches), labels (and ``nearest`` soft targets) gathered at the same nearest voxels. The
grids are those of the per-patch path, bit for bit; the results equal it within float32
rounding of the prefilter (labels exactly; tests/test_device_rotation.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from kdseg.errors import ConfigError
from kdseg.train.augmentation import PLANES, SOFT_TARGET_ORDERS, Augmentation
from kdseg.train.rotation import ROTATION_ORDER, _cubic_as_linear, _grid, _reflected_index

if TYPE_CHECKING:
    from kdseg.train.sampler import PatchSampler

ROTATE_ON = ("auto", "cpu", "device")
BatchStep = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


def rotation_on_device(setting: str, device: torch.device, augmentation: Augmentation) -> bool:
    """Whether the authors' rotation runs batched on ``device`` (``training.rotate_on``):
    ``auto`` where the training device is CUDA, ``cpu`` never (per patch in the loader),
    ``device`` always. Only the authors' rotation moves; ``device`` refuses MONAI's steps
    (the uniform rotation, intensity and noise), which the loader applies after the
    rotation, and ``auto`` then keeps the rotation in the loader."""
    if setting not in ROTATE_ON:
        raise ConfigError(f"training.rotate_on: {setting!r}; choose one of {list(ROTATE_ON)}")
    monai = augmentation.rotation != "authors" or augmentation.transform(3, []) is not None
    if setting == "device" and monai:
        raise ConfigError(
            "training.rotate_on: device rotates the batch after the loader, but the "
            "augmentation has MONAI steps that follow the rotation in the loader (rotation: "
            "uniform, intensity or noise); set rotate_on: cpu (or auto)"
        )
    if setting == "cpu" or (setting == "auto" and device.type != "cuda") or monai:
        return False
    return augmentation.probability > 0 and augmentation.rotate_sigma_degrees > 0


@functools.lru_cache(maxsize=32)
def _prefilter_matrix(n: int, device: torch.device) -> torch.Tensor:
    """scipy's cubic-spline prefilter along an axis of ``n`` voxels (mode ``reflect``) as a
    matrix ``M`` (float32): coefficients = ``M @ values``."""
    matrix = ndimage.spline_filter1d(np.eye(n), 3, axis=0, mode="reflect")
    return torch.from_numpy(matrix.astype(np.float32)).to(device)


def _coordinates(
    cos: torch.Tensor, sin: torch.Tensor, shape: Sequence[int], crop: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`kdseg.train.rotation._source_coordinates` per patch: (b, h, w) float64 each."""
    H, W = shape
    ci, cj = (H - 1) / 2, (W - 1) / 2
    i = torch.arange(crop, H - crop, dtype=torch.float64, device=cos.device)[:, None] - ci
    j = torch.arange(crop, W - crop, dtype=torch.float64, device=cos.device)[None, :] - cj
    c, s = cos[:, None, None], sin[:, None, None]
    return ci + c * i + s * j, cj - s * i + c * j


def _nearest(x: torch.Tensor, si: torch.Tensor, sj: torch.Tensor) -> torch.Tensor:
    """Order 0: ``x`` (b, P, H, W), any dtype, at the nearest reflected voxels."""
    (b, P, H, W), (h, w) = x.shape, si.shape[1:]
    index = (_reflected_index(si, H) * W + _reflected_index(sj, W)).reshape(b, 1, h * w)
    return torch.gather(x.reshape(b, P, H * W), 2, index.expand(b, P, h * w)).reshape(b, P, h, w)


def _fetch(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(x, grid, "bilinear", "reflection", False)


def _linear(x: torch.Tensor, si: torch.Tensor, sj: torch.Tensor) -> torch.Tensor:
    return _fetch(x, _grid(si, sj, x.shape[-2:]))


def _cubic(x: torch.Tensor, si: torch.Tensor, sj: torch.Tensor) -> torch.Tensor:
    """Order 3: the prefilter along both axes, then four bilinear fetches per voxel."""
    (b, P, H, W), (h, w) = x.shape, si.shape[1:]
    coefficients = _prefilter_matrix(H, x.device) @ x @ _prefilter_matrix(W, x.device).T
    fi, fj = _cubic_as_linear(si), _cubic_as_linear(sj)
    grid = torch.cat([_grid(pi, pj, (H, W)) for pi, _ in fi for pj, _ in fj], dim=1)
    weights = torch.stack([gi * gj for _, gi in fi for _, gj in fj], 1).to(torch.float32)
    values = _fetch(coefficients, grid).reshape(b, P, 4, h, w)
    return (values * weights[:, None]).sum(2)


_SPLINE = {0: _nearest, 1: _linear, 3: _cubic}


def _cut(x: torch.Tensor, crop: int, axes: Sequence[int]) -> torch.Tensor:
    """``x`` (b, C, *spatial) cut to ``crop..n-crop`` along the spatial ``axes``."""
    inner = [slice(None)] * (x.ndim - 2)
    for a in axes:
        inner[a] = slice(crop, x.shape[a + 2] - crop)
    return x[(slice(None), slice(None), *inner)]


def _rotate_group(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, plane: Sequence[int], order: int,
    crop: int,
) -> torch.Tensor:  # fmt: skip
    """Patches ``x`` (b, C, *spatial) rotated in one ``plane`` (spatial axes), each by its
    angle, as :func:`~kdseg.train.rotation.rotate_patch`: cut by ``crop`` on every side."""
    a, c = plane[0] + 2, plane[1] + 2
    y = torch.movedim(x, (a, c), (-2, -1))
    lead, shape = y.shape[1:-2], y.shape[-2:]
    si, sj = _coordinates(cos, sin, shape, crop)
    out = _SPLINE[order](y.reshape(len(y), -1, *shape), si, sj)
    out = torch.movedim(out.reshape(len(y), *lead, *out.shape[-2:]), (-2, -1), (a, c))
    others = [axis for axis in range(x.ndim - 2) if axis not in plane]
    return _cut(out, crop, others) if crop else out


def rotate_batch(
    batch: dict[str, torch.Tensor], margin: int, soft_order: int = 1
) -> dict[str, torch.Tensor]:
    """A batch cut for device rotation (:meth:`PatchSampler.batch` with ``device_rotation``)
    rotated where it is: ``image`` (B, C, *patch) stays the patch's size; ``label``
    (B, *patch) and the other targets (B, K, *patch) are cut to the output region
    (``margin`` less on every side). Orders: :data:`ROTATION_ORDER`, ``soft_order`` for the
    other targets. The ``rotation`` table (:func:`kdseg.train.rotation.rotation_table`) is
    consumed."""
    rest = dict(batch)
    table = rest.pop("rotation")
    planes = table[:, 2].cpu().to(torch.int64)
    cos, sin = table[:, 0].to(torch.float64), table[:, 1].to(torch.float64)
    out = {}
    for key, value in rest.items():
        x = value[:, None] if key == "label" else value
        crop = 0 if key == "image" else margin
        result = _cut(x, crop, range(x.ndim - 2)).clone()
        for p, plane in enumerate(PLANES):
            chosen = torch.nonzero(planes == p).flatten()
            if not len(chosen):
                continue
            idx = chosen.to(x.device)
            order = ROTATION_ORDER.get(key, soft_order)
            result[idx] = _rotate_group(x[idx], cos[idx], sin[idx], plane, order, crop)
        out[key] = result[:, 0] if key == "label" else result
    return out


def batch_rotation(sampler: PatchSampler) -> BatchStep | None:
    """The training loop's step after moving a batch to the device: :func:`rotate_batch`
    for a sampler that cuts for device rotation (None: the loader rotated already)."""
    if not sampler.device_rotation:
        return None
    order = SOFT_TARGET_ORDERS[sampler.augmentation.soft_target_rotation]
    return functools.partial(rotate_batch, margin=sampler.margin, soft_order=order)
