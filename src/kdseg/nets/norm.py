"""Normalisation layers of the networks: the authors' batch normalisation, or instance
normalisation (``norm: instance``, ours for small CPU batches, as nnU-Net).

With batches of two patches drawn around structures, batch statistics differ from the running
statistics that inference on whole images uses; instance normalisation normalises each patch
by its own statistics in training and inference alike.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

NORMS = ("batch", "instance")


def norm_layer(dims: int, kind: str = "batch") -> Callable[[int], nn.Module]:
    """A constructor ``channels -> layer`` of a ``dims``-D normalisation of ``kind``."""
    if kind == "batch":
        return nn.BatchNorm3d if dims == 3 else nn.BatchNorm2d
    if kind == "instance":
        return partial(nn.InstanceNorm3d if dims == 3 else nn.InstanceNorm2d, affine=True)
    raise TypeError(f"norm must be one of {', '.join(NORMS)}, got {kind!r}")
