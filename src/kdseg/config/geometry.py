"""The geometry of a registry network (dimensions, receptive field, size divisor, valid
margin), declared without torch so that planning patch sizes while a config is read never
imports it. ``tests/test_geometry.py`` keeps it equal to the built networks (their
``size_divisor`` and ``valid_margin``, and the receptive field measured by gradients).

Receptive fields are computed from each network's layer sequence along one axis, from the
output back to the input (see :func:`receptive_field`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kdseg.config.specs import MONAI_PREFIX, NETWORKS, check_network_arguments
from kdseg.errors import ConfigError

# the constructors' defaults (kdseg.nets.unet.UNet, kdseg.nets.resnet.ResNet,
# kdseg.nets.dilated.DilatedCNN2D); tests/test_geometry.py builds the networks with them
UNET_FEATURES = (32, 64, 128, 256)
RESNET_BLOCKS = 6
DILATIONS = (1, 1, 2, 4, 8, 16, 32, 1)
LAYOUTS = ("authors", "kdseg")
# input sizes of MONAI networks: a multiple of 16 suits their 4-5-level U-Nets and SegResNet
MONAI_SIZE_DIVISOR = 16


@dataclass(frozen=True)
class NetworkGeometry:
    """What a network needs of its input's size, along each spatial axis."""

    dims: int  # 2 or 3 spatial dimensions
    receptive_field: int | None  # input voxels per axis one output voxel sees (None: unknown)
    size_divisor: int  # input sizes must be multiples of it
    valid_margin: int  # voxels lost on each side by valid convolutions: out = in - 2 * margin


@dataclass(frozen=True)
class Layer:
    """One layer along one axis: a convolution or pooling (``transposed=False``) or a
    transposed convolution. Padding does not change a receptive field's size."""

    kernel: int
    stride: int = 1
    dilation: int = 1
    transposed: bool = False


def receptive_field(layers: Sequence[Layer]) -> int:
    """Receptive field of one output voxel of ``layers`` (in forward order), walking back from
    the output with ``r = 1``:

    - convolution or pooling (kernel k, stride s, dilation d): ``r <- (r - 1) * s + d * (k - 1)
      + 1``;
    - transposed convolution (kernel k, stride s): output ``o = s * i + j - padding`` with
      ``0 <= j < k``, so ``r`` consecutive outputs see the ``i`` with ``s * i`` in a run of
      ``r + k - 1`` consecutive integers: at most ``ceil((r + k - 1) / s)`` of them, a count
      that depends on the outputs' position modulo ``s`` (k = s = 2: exactly ``(r + 1) / 2``
      for odd r). This is the maximum over positions, reached by some output voxels.
    """
    r = 1
    for layer in reversed(layers):
        if layer.transposed:
            r = math.ceil((r + layer.kernel - 1) / layer.stride)
        else:
            r = (r - 1) * layer.stride + layer.dilation * (layer.kernel - 1) + 1
    return r


def dilated_layers(dilations: Sequence[int]) -> list[Layer]:
    """``DilatedCNN2D``: valid 3x3 convolutions with these dilations, then 1x1 layers; its
    receptive field is ``1 + 2 * sum(dilations)`` and its valid margin ``sum(dilations)``."""
    return [Layer(3, dilation=d) for d in dilations] + [Layer(1)]


def unet_layers(levels: int) -> list[Layer]:
    """``UNet``'s path through the bottleneck (the longest): per level two 3x3 convolutions,
    a 2x2 max-pool between levels, then per level up a 2x2 stride-2 transposed convolution and
    two 3x3 convolutions, and a 1x1 head. Skip connections give shorter paths."""
    down = [Layer(3), Layer(3)] + [Layer(2, 2), Layer(3), Layer(3)] * (levels - 1)
    up = [Layer(2, 2, transposed=True), Layer(3), Layer(3)] * (levels - 1)
    return [*down, *up, Layer(1)]


def resnet_layers(blocks: int, layout: str) -> list[Layer]:
    """``ResNet``'s path through the residual bodies (the identity shortcuts are shorter): a
    3x3 convolution, two 3x3 stride-2 convolutions, two 3x3 convolutions per block, then two
    stride-2 transposed convolutions (``authors``: 3x3, ``kdseg``: 2x2) and 1x1 layers."""
    up = 3 if layout == "authors" else 2
    return [
        Layer(3), Layer(3, 2), Layer(3, 2), *[Layer(3)] * (2 * blocks),
        *[Layer(up, 2, transposed=True)] * 2, Layer(1),
    ]  # fmt: skip


def _bad(network: str, problem: str) -> ConfigError:
    return ConfigError(f"architecture {network!r}: bad arguments ({problem})")


def _is_int(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _int_list(network: str, key: str, value: Any) -> tuple[int, ...]:
    """``value``, a non-empty list of positive integers."""
    if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value
            or not all(_is_int(v, 1) for v in value)):  # fmt: skip
        raise _bad(network, f"{key} must be a list of positive integers, got {value!r}")
    return tuple(value)


def network_geometry(network: str, kwargs: Mapping[str, Any] | None = None) -> NetworkGeometry:
    """The geometry of a network given by its registry name (or ``monai:<Name>``) and the
    keyword arguments of its builder, without building it.

    A MONAI network's geometry is known only once it is built: it gets no receptive field, no
    valid margin and a size divisor of 16, conservative for MONAI's 4-5-level U-Nets (at most
    4 downsamplings: 2**4) and SegResNet (3 by default: 8); the job that builds it still
    checks its sizes.
    Unknown networks or keyword arguments raise :class:`ConfigError`.
    """
    kwargs = dict(kwargs or {})
    if network.startswith(MONAI_PREFIX):
        dims = kwargs.get("spatial_dims", 3)
        if dims not in (2, 3) or isinstance(dims, bool):
            raise _bad(network, f"spatial_dims must be 2 or 3, got {dims!r}")
        return NetworkGeometry(int(dims), None, MONAI_SIZE_DIVISOR, 0)
    check_network_arguments(network, kwargs)
    dims = NETWORKS[network][0]
    layout = kwargs.get("layout", "kdseg" if network.endswith("_kdseg") else "authors")
    if layout not in LAYOUTS:
        raise _bad(network, f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if network.startswith("dilated"):
        dilations = _int_list(network, "dilations", kwargs.get("dilations", DILATIONS))
        return NetworkGeometry(dims, receptive_field(dilated_layers(dilations)), 1, sum(dilations))
    if network.startswith("unet"):
        levels = len(_int_list(network, "features", kwargs.get("features", UNET_FEATURES)))
        return NetworkGeometry(dims, receptive_field(unet_layers(levels)), 2 ** (levels - 1), 0)
    blocks = kwargs.get("blocks", RESNET_BLOCKS)
    if not _is_int(blocks, 0):
        raise _bad(network, f"blocks must be a non-negative integer, got {blocks!r}")
    return NetworkGeometry(dims, receptive_field(resnet_layers(blocks, layout)), 4, 0)
