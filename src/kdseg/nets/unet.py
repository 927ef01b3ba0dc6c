"""The paper's U-Net: levels of two conv-BN-ReLU blocks, max-pool down, transposed conv up.

``norm: instance`` (ours, :mod:`kdseg.nets.norm`) replaces batch by instance normalisation.

At the paper's setting (3D, 4 levels, 32-64-128-256 features) it has about 5.6M parameters.
``spatial_dims=2`` gives the 2D variant.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from kdseg.nets.norm import norm_layer


def _conv(dims: int):
    return nn.Conv3d if dims == 3 else nn.Conv2d


def _block(dims: int, cin: int, cout: int, kind: str = "batch") -> nn.Sequential:
    conv, norm = _conv(dims), norm_layer(dims, kind)
    return nn.Sequential(
        conv(cin, cout, 3, padding=1), norm(cout), nn.ReLU(inplace=True),
        conv(cout, cout, 3, padding=1), norm(cout), nn.ReLU(inplace=True),
    )  # fmt: skip


class UNet(nn.Module):
    """U-Net with ``len(features)`` levels; input sizes must be divisible by 2**(levels-1)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        features: Sequence[int] = (32, 64, 128, 256),
        spatial_dims: int = 3,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        d = spatial_dims
        up = nn.ConvTranspose3d if d == 3 else nn.ConvTranspose2d
        self.down = nn.ModuleList()
        ch = in_channels
        for f in features:
            self.down.append(_block(d, ch, f, norm))
            ch = f
        self.pool = nn.MaxPool3d(2) if d == 3 else nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for f in reversed(features[:-1]):
            self.up.append(up(ch, f, 2, stride=2))
            self.merge.append(_block(d, 2 * f, f, norm))
            ch = f
        self.head = _conv(d)(ch, out_channels, 1)
        self.valid_margin = 0
        self.size_divisor = 2 ** (len(features) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1]), strict=True):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)
