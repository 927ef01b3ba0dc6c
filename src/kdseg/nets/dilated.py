"""The paper's 2D dilated CNN (Wolterink-style): valid 3x3 convolutions, no pooling.

Eight 3x3 convolutions with dilations 1, 1, 2, 4, 8, 16, 32, 1 (32 channels, batch norm,
ReLU) give a receptive field of 1 + 2 * 65 = 131 pixels; then 1x1 layers 32 -> 96 -> 192 ->
classes with batch norm and dropout. About 90k parameters at the paper's width. Convolutions
are valid (no padding): an input of N pixels gives N - 130 outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

PAPER_DILATIONS = (1, 1, 2, 4, 8, 16, 32, 1)


def receptive_field(dilations: Sequence[int]) -> int:
    """Receptive field (pixels) of stacked valid 3x3 convolutions with these dilations."""
    return 1 + 2 * sum(dilations)


class DilatedCNN2D(nn.Sequential):
    """Valid dilated 3x3 convolutions followed by a 1x1 classifier."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        features: int = 32,
        dilations: Sequence[int] = PAPER_DILATIONS,
        head: Sequence[int] = (96, 192),
        dropout: float = 0.5,
    ) -> None:
        layers: list[nn.Module] = []
        ch = in_channels
        for d in dilations:
            layers += [nn.Conv2d(ch, features, 3, dilation=d), nn.BatchNorm2d(features), nn.ReLU()]
            ch = features
        for width in head:
            layers += [
                nn.Conv2d(ch, width, 1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.Dropout2d(dropout),
            ]
            ch = width
        layers.append(nn.Conv2d(ch, out_channels, 1))
        super().__init__(*layers)
        self.receptive_field = receptive_field(dilations)
        self.valid_margin = (self.receptive_field - 1) // 2
        self.size_divisor = 1
