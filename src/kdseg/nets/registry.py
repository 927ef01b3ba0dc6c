"""Architectures by name: the paper's three (and 2D variants, and our earlier layouts), or any
MONAI network.

``build_network("unet3d", in_channels=1, out_channels=5, features=[8, 16, 32, 64])``;
``build_network("monai:SegResNet", in_channels=1, out_channels=5, spatial_dims=3)`` builds
``monai.networks.nets.SegResNet`` with those keyword arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from torch import nn

from kdseg.errors import ConfigError
from kdseg.nets.dilated import DilatedCNN2D
from kdseg.nets.resnet import ResNet
from kdseg.nets.unet import UNet

# ``dilated2d`` and ``resnet3d``/``resnet2d`` are the authors' layouts (their parameter counts);
# the ``_kdseg`` names are our earlier layouts (see kdseg.nets.dilated and kdseg.nets.resnet).
ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "dilated2d": DilatedCNN2D,
    "dilated2d_kdseg": functools.partial(DilatedCNN2D, layout="kdseg"),
    "unet3d": functools.partial(UNet, spatial_dims=3),
    "unet2d": functools.partial(UNet, spatial_dims=2),
    "resnet3d": functools.partial(ResNet, spatial_dims=3),
    "resnet2d": functools.partial(ResNet, spatial_dims=2),
    "resnet3d_kdseg": functools.partial(ResNet, spatial_dims=3, layout="kdseg"),
    "resnet2d_kdseg": functools.partial(ResNet, spatial_dims=2, layout="kdseg"),
}


def build_network(name: str, in_channels: int, out_channels: int, **kwargs: Any) -> nn.Module:
    """Build an architecture by registry name or ``monai:<ClassName>``."""
    if name.startswith("monai:"):
        from monai.networks import nets

        cls = getattr(nets, name.split(":", 1)[1], None)
        if cls is None:
            raise ConfigError(f"architecture {name!r}: no such network in monai.networks.nets")
        return cls(in_channels=in_channels, out_channels=out_channels, **kwargs)
    if name not in ARCHITECTURES:
        raise ConfigError(
            f"architecture {name!r}: unknown (known: {', '.join(ARCHITECTURES)}, or monai:<Name>)"
        )
    try:
        return ARCHITECTURES[name](in_channels=in_channels, out_channels=out_channels, **kwargs)
    except TypeError as err:
        raise ConfigError(f"architecture {name!r}: bad arguments ({err})") from err


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def input_geometry(model: nn.Module) -> tuple[int, int]:
    """(valid_margin, size_divisor) of a network.

    ``valid_margin``: pixels lost on each side by valid convolutions (output = input - 2m);
    ``size_divisor``: input sizes must be multiples of it. Networks that do not declare them
    (e.g. MONAI ones) are assumed same-size and are fed patches of the configured size.
    """
    return int(getattr(model, "valid_margin", 0)), int(getattr(model, "size_divisor", 1))
