"""The paper's ResNet: conv 32, two stride-2 convs to 128, pre-activation residual blocks with
dropout, two transposed convs back up, 1x1 head. About 5.9M parameters at the paper's setting
(3D, 6 blocks). ``spatial_dims=2`` gives the 2D variant.
"""

from __future__ import annotations

import torch
from torch import nn


class PreActBlock(nn.Module):
    """BN-ReLU-conv-BN-ReLU-dropout-conv with an identity shortcut."""

    def __init__(self, channels: int, dims: int, dropout: float) -> None:
        super().__init__()
        conv = nn.Conv3d if dims == 3 else nn.Conv2d
        norm = nn.BatchNorm3d if dims == 3 else nn.BatchNorm2d
        drop = nn.Dropout3d if dims == 3 else nn.Dropout2d
        self.body = nn.Sequential(
            norm(channels), nn.ReLU(), conv(channels, channels, 3, padding=1),
            norm(channels), nn.ReLU(), drop(dropout), conv(channels, channels, 3, padding=1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet(nn.Module):
    """Encoder (x4 downsampling), residual blocks, decoder; input sizes divisible by 4."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        features: int = 32,
        blocks: int = 6,
        dropout: float = 0.2,
        spatial_dims: int = 3,
    ) -> None:
        super().__init__()
        d = spatial_dims
        conv = nn.Conv3d if d == 3 else nn.Conv2d
        up = nn.ConvTranspose3d if d == 3 else nn.ConvTranspose2d
        norm = nn.BatchNorm3d if d == 3 else nn.BatchNorm2d
        f1, f2, f3 = features, 2 * features, 4 * features
        self.encoder = nn.Sequential(
            conv(in_channels, f1, 3, padding=1), norm(f1), nn.ReLU(),
            conv(f1, f2, 3, stride=2, padding=1), norm(f2), nn.ReLU(),
            conv(f2, f3, 3, stride=2, padding=1),
        )  # fmt: skip
        self.blocks = nn.Sequential(*(PreActBlock(f3, d, dropout) for _ in range(blocks)))
        self.decoder = nn.Sequential(
            norm(f3), nn.ReLU(), up(f3, f2, 2, stride=2),
            norm(f2), nn.ReLU(), up(f2, f1, 2, stride=2),
            norm(f1), nn.ReLU(), conv(f1, out_channels, 1),
        )  # fmt: skip
        self.valid_margin = 0
        self.size_divisor = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.blocks(self.encoder(x)))
